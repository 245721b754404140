/* Cluster-key challenge-response: both directions, wrong key, replay, reflection,
 * tampering, and key derivation from a secret file's bytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tunnel/auth.h"

static const char secret_a[] = "this is the cluster secret, long enough to use.";
static const char secret_b[] = "this is another cluster secret, also long enough";

static void key_of(const char *secret, uint8_t key[AUTH_KEY_BYTES])
{
	assert_int_equal(auth_key_from_secret((const uint8_t *)secret, strlen(secret), key), 0);
}

/* One handshake up to the exchange of HELLOs: each side learns the other's nonce and
 * name. */
static void hello_exchange(struct auth_state *ini, const uint8_t *key_i,
			   struct auth_state *rsp, const uint8_t *key_r)
{
	auth_init(ini, key_i, "node-a", true);
	auth_init(rsp, key_r, "node-b", false);
	auth_set_peer(ini, rsp->my_nonce, "node-b");
	auth_set_peer(rsp, ini->my_nonce, "node-a");
}

static void test_right_key_both_ways(void **state)
{
	struct auth_state ini, rsp;
	uint8_t key[AUTH_KEY_BYTES], mac_i[AUTH_MAC_BYTES], mac_r[AUTH_MAC_BYTES];

	key_of(secret_a, key);
	hello_exchange(&ini, key, &rsp, key);
	auth_proof(&ini, mac_i);
	auth_proof(&rsp, mac_r);
	assert_true(auth_verify(&rsp, mac_i));
	assert_true(auth_verify(&ini, mac_r));
	/* the two proofs differ: each binds its prover's role */
	assert_memory_not_equal(mac_i, mac_r, AUTH_MAC_BYTES);
	/* the state holds a derived subkey, never the cluster key itself */
	assert_memory_not_equal(ini.key, key, AUTH_KEY_BYTES);
	auth_clear(&ini);
	auth_clear(&rsp);
}

static void test_wrong_key(void **state)
{
	struct auth_state ini, rsp;
	uint8_t ka[AUTH_KEY_BYTES], kb[AUTH_KEY_BYTES];
	uint8_t mac_i[AUTH_MAC_BYTES], mac_r[AUTH_MAC_BYTES];

	key_of(secret_a, ka);
	key_of(secret_b, kb);

	/* initiator holds the wrong key */
	hello_exchange(&ini, kb, &rsp, ka);
	auth_proof(&ini, mac_i);
	auth_proof(&rsp, mac_r);
	assert_false(auth_verify(&rsp, mac_i));
	assert_false(auth_verify(&ini, mac_r));

	/* responder holds the wrong key */
	hello_exchange(&ini, ka, &rsp, kb);
	auth_proof(&ini, mac_i);
	auth_proof(&rsp, mac_r);
	assert_false(auth_verify(&rsp, mac_i));
	assert_false(auth_verify(&ini, mac_r));
}

static void test_fresh_nonces(void **state)
{
	struct auth_state s1, s2;
	uint8_t key[AUTH_KEY_BYTES];

	key_of(secret_a, key);
	auth_init(&s1, key, "node-a", true);
	auth_init(&s2, key, "node-a", true);
	assert_memory_not_equal(s1.my_nonce, s2.my_nonce, AUTH_NONCE_BYTES);
}

static void test_replay(void **state)
{
	struct auth_state ini, rsp;
	uint8_t key[AUTH_KEY_BYTES], old_i[AUTH_MAC_BYTES], old_r[AUTH_MAC_BYTES];
	uint8_t mac[AUTH_MAC_BYTES];

	key_of(secret_a, key);
	/* session 1, recorded by an eavesdropper */
	hello_exchange(&ini, key, &rsp, key);
	auth_proof(&ini, old_i);
	auth_proof(&rsp, old_r);
	assert_true(auth_verify(&rsp, old_i));

	/* session 2: fresh nonces on both sides; the recorded proofs are worthless */
	hello_exchange(&ini, key, &rsp, key);
	assert_false(auth_verify(&rsp, old_i));
	assert_false(auth_verify(&ini, old_r));
	/* while the genuine ones still pass */
	auth_proof(&ini, mac);
	assert_true(auth_verify(&rsp, mac));
	auth_proof(&rsp, mac);
	assert_true(auth_verify(&ini, mac));
}

static void test_replay_one_side_fresh(void **state)
{
	struct auth_state ini, rsp, replay;
	uint8_t key[AUTH_KEY_BYTES], old_i[AUTH_MAC_BYTES];

	key_of(secret_a, key);
	hello_exchange(&ini, key, &rsp, key);
	auth_proof(&ini, old_i);

	/* An attacker replays the old initiator's HELLO nonce to a responder that drew a
	 * fresh one: the responder's fresh nonce alone defeats the replay. */
	auth_init(&replay, key, "node-b", false);
	auth_set_peer(&replay, ini.my_nonce, "node-a");
	assert_false(auth_verify(&replay, old_i));
}

static void test_reflection(void **state)
{
	struct auth_state ini, rsp;
	uint8_t key[AUTH_KEY_BYTES], mac_i[AUTH_MAC_BYTES];

	key_of(secret_a, key);
	hello_exchange(&ini, key, &rsp, key);
	auth_proof(&ini, mac_i);
	/* the initiator's own proof sent back to it as if the responder made it */
	assert_false(auth_verify(&ini, mac_i));

	/* The attacker, posing as a responder, echoes the initiator's own HELLO (same
	 * name, same nonce) and then its proof. */
	auth_init(&ini, key, "node-a", true);
	auth_set_peer(&ini, ini.my_nonce, "node-a");
	auth_proof(&ini, mac_i);
	assert_false(auth_verify(&ini, mac_i));
}

static void test_tampered_names(void **state)
{
	struct auth_state ini, rsp;
	uint8_t key[AUTH_KEY_BYTES], mac_i[AUTH_MAC_BYTES], mac_r[AUTH_MAC_BYTES];
	uint8_t nonce[AUTH_NONCE_BYTES];

	key_of(secret_a, key);

	/* The responder is told a different initiator name than the initiator used. */
	hello_exchange(&ini, key, &rsp, key);
	memcpy(nonce, ini.my_nonce, sizeof(nonce));
	auth_set_peer(&rsp, nonce, "node-x");
	auth_proof(&ini, mac_i);
	auth_proof(&rsp, mac_r);
	assert_false(auth_verify(&rsp, mac_i));
	assert_false(auth_verify(&ini, mac_r));

	/* The initiator is told a different responder name. */
	hello_exchange(&ini, key, &rsp, key);
	memcpy(nonce, rsp.my_nonce, sizeof(nonce));
	auth_set_peer(&ini, nonce, "node-bb");
	auth_proof(&ini, mac_i);
	auth_proof(&rsp, mac_r);
	assert_false(auth_verify(&rsp, mac_i));
	assert_false(auth_verify(&ini, mac_r));
}

static void test_name_boundary(void **state)
{
	struct auth_state ini, rsp;
	uint8_t key[AUTH_KEY_BYTES], mac[AUTH_MAC_BYTES];

	key_of(secret_a, key);
	/* "ab" + "c" and "a" + "bc" concatenate alike; the length prefixes tell them apart */
	auth_init(&ini, key, "ab", true);
	auth_init(&rsp, key, "bc", false);
	auth_set_peer(&ini, rsp.my_nonce, "c");
	auth_set_peer(&rsp, ini.my_nonce, "a");
	auth_proof(&ini, mac);
	assert_false(auth_verify(&rsp, mac));
}

static void test_tampered_mac(void **state)
{
	struct auth_state ini, rsp;
	uint8_t key[AUTH_KEY_BYTES], mac[AUTH_MAC_BYTES];
	unsigned i;

	key_of(secret_a, key);
	hello_exchange(&ini, key, &rsp, key);
	auth_proof(&ini, mac);
	for (i = 0; i < AUTH_MAC_BYTES; i++) {
		mac[i] ^= 0x01;
		assert_false(auth_verify(&rsp, mac));
		mac[i] ^= 0x01;
	}
	assert_true(auth_verify(&rsp, mac));
}

static void test_no_peer_yet(void **state)
{
	struct auth_state ini, rsp;
	uint8_t key[AUTH_KEY_BYTES], mac[AUTH_MAC_BYTES];

	key_of(secret_a, key);
	auth_init(&ini, key, "node-a", true);
	auth_init(&rsp, key, "node-b", false);
	auth_set_peer(&ini, rsp.my_nonce, "node-b");
	auth_proof(&ini, mac);
	/* rsp has not seen a HELLO: nothing can verify yet */
	assert_false(auth_verify(&rsp, mac));
}

static void test_clear(void **state)
{
	static const uint8_t zero[sizeof(struct auth_state)];
	struct auth_state st;
	uint8_t key[AUTH_KEY_BYTES];

	key_of(secret_a, key);
	auth_init(&st, key, "node-a", true);
	auth_clear(&st);
	assert_memory_equal(&st, zero, sizeof(st));
}

static void test_key_from_secret(void **state)
{
	uint8_t k1[AUTH_KEY_BYTES], k2[AUTH_KEY_BYTES];
	char buf[128];

	/* 31 bytes: too short; 32: enough */
	assert_int_equal(auth_key_from_secret((const uint8_t *)"0123456789abcdef0123456789abcde",
					      31, k1), -EINVAL);
	assert_int_equal(auth_key_from_secret((const uint8_t *)"0123456789abcdef0123456789abcdef",
					      32, k1), 0);
	assert_int_equal(auth_key_from_secret((const uint8_t *)"", 0, k1), -EINVAL);
	/* whitespace does not count towards the 32 bytes */
	snprintf(buf, sizeof(buf), "   %s\n\n\t", "0123456789abcdef0123456789abcde");
	assert_int_equal(auth_key_from_secret((const uint8_t *)buf, strlen(buf), k1), -EINVAL);

	/* trimming: the same secret with and without surrounding blanks gives one key */
	key_of(secret_a, k1);
	snprintf(buf, sizeof(buf), " \t\r\n%s\r\n \v\f", secret_a);
	key_of(buf, k2);
	assert_memory_equal(k1, k2, AUTH_KEY_BYTES);
	snprintf(buf, sizeof(buf), "%s\n", secret_a);
	key_of(buf, k2);
	assert_memory_equal(k1, k2, AUTH_KEY_BYTES);

	/* inner whitespace is part of the secret */
	snprintf(buf, sizeof(buf), "%s", secret_a);
	buf[4] = '_';
	key_of(buf, k2);
	assert_memory_not_equal(k1, k2, AUTH_KEY_BYTES);

	/* different secrets, different keys; the key is not the secret's first bytes */
	key_of(secret_b, k2);
	assert_memory_not_equal(k1, k2, AUTH_KEY_BYTES);
	assert_memory_not_equal(k1, secret_a, AUTH_KEY_BYTES);
}

static void test_key_golden(void **state)
{
	/* BLAKE2b-256 of the 32 bytes "0123456789abcdef0123456789abcdef", computed
	 * independently with Python's hashlib.blake2b(digest_size=32). */
	static const uint8_t want[AUTH_KEY_BYTES] = {
		0x27, 0x88, 0x63, 0x6b, 0xe2, 0x5c, 0xac, 0xe0,
		0xbd, 0x9e, 0x45, 0xbd, 0xde, 0x65, 0x0b, 0x4f,
		0xc0, 0xe9, 0x79, 0x57, 0x5d, 0x7f, 0x3d, 0x58,
		0xc6, 0x24, 0x8b, 0x18, 0xab, 0x23, 0x76, 0x09,
	};
	static const char secret[] = "\n0123456789abcdef0123456789abcdef\n";
	uint8_t k[AUTH_KEY_BYTES];

	assert_int_equal(auth_key_from_secret((const uint8_t *)secret, strlen(secret), k), 0);
	assert_memory_equal(k, want, sizeof(want));
}

static int setup(void **state)
{
	return auth_global_init();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_right_key_both_ways),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_fresh_nonces),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_replay_one_side_fresh),
		cmocka_unit_test(test_reflection),
		cmocka_unit_test(test_tampered_names),
		cmocka_unit_test(test_name_boundary),
		cmocka_unit_test(test_tampered_mac),
		cmocka_unit_test(test_no_peer_yet),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_key_from_secret),
		cmocka_unit_test(test_key_golden),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
