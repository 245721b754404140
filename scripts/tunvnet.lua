-- tunvnet.lua: a Wireshark / tshark dissector for tunvnet's peer protocol (version 2) on
-- the TCP links between tunvnetd daemons, port 7000 by default.
--
--   tshark -X lua_script:scripts/tunvnet.lua -r underlay.pcap -Y tunvnet
--   tshark -X lua_script:scripts/tunvnet.lua -o tunvnet.port:7100 -r ...
--   wireshark: copy to ~/.local/lib/wireshark/plugins/
--
-- One port carries two kinds of connections, told apart by their first bytes:
--   * control links are TLS 1.3 from the first byte (a 0x16 handshake record): the stream
--     is handed to Wireshark's own TLS dissector, so HELLO, PEERS, ROUTES, MIGRATE and the
--     control link's PING / PONG are not visible. With the TLS keys (a key log in the TLS
--     preferences) the decrypted frames come back here and are decoded.
--   * data links carry frames in the clear: LINK_OPEN, LINK_OK, then DATA (and any PING /
--     PONG), whose payloads are sealed (flag 0x8000, tunnel/seal.h: u32 generation, u64
--     counter, ciphertext, 16-byte tag) unless the cluster runs data_protection = none.
--     A sealed payload shows its generation, counter and length, never its contents.
--
-- Frames (tunnel/frame.h): u8 version, u8 type, u16 flags, u32 payload length, all
-- big-endian, then the payload; frames are reassembled across TCP segments. Bodies as in
-- tunvnet/msg.h. A plain DATA frame carries one IP packet (or a super-packet, after a
-- virtio-net header when the frame says so), handed to Wireshark's own IP dissectors.

local tunvnet = Proto("tunvnet", "tunvnet peer protocol")

-- Bit operations: Lua 5.2 (bit32, or Wireshark's bit) or 5.3+ (operators).
local band, rshift
if bit32 then
	band, rshift = bit32.band, bit32.rshift
elseif bit then
	band, rshift = bit.band, bit.rshift
else
	band = load("return function(a, b) return a & b end")()
	rshift = load("return function(a, n) return a >> n end")()
end

local VERSION = 2
local HDR_LEN = 8
local MAX_PAYLOAD = 65536 + 512

-- Frame types and flags, as in tunnel/frame.h.
local DATA, LINK_OPEN, LINK_OK = 5, 2, 10
local types = {
	[1] = "HELLO", [2] = "LINK_OPEN", [3] = "PEERS", [4] = "ROUTES", [5] = "DATA",
	[6] = "PING", [7] = "PONG", [8] = "MIGRATE", [9] = "MIGRATE_DONE", [10] = "LINK_OK",
}
local F_FULL_TABLE = 0x0001
local F_ACK_REQ = 0x0002
local F_ACK = 0x0004
local F_FORWARDED = 0x0010
-- DATA: a virtio-net header precedes the packet (a super-packet as the kernel made it).
local F_VNET_HDR = 0x0020
local F_HANDED_OVER = 0x0040
local F_SEALED = 0x8000
local VNET_HDR_LEN = 10
-- A sealed payload (tunnel/seal.h): u32 generation, u64 counter, ciphertext, tag.
local SEAL_HDR_LEN = 12
local SEAL_TAG_LEN = 16
-- HELLO and LINK_OPEN flags (tunvnet/msg.h)
local MSG_SEALED = 0x01

local families = { [0] = "none", [4] = "IPv4", [6] = "IPv6" }
local substrates = { [0] = "tcp" }
local gso_types = {
	[0] = "none", [1] = "TCPv4", [3] = "UDP", [4] = "TCPv6", [5] = "UDP_L4", [0x80] = "ECN",
}

local f = tunvnet.fields
f.version = ProtoField.uint8("tunvnet.version", "Version")
f.type = ProtoField.uint8("tunvnet.type", "Type", base.DEC, types)
f.flags = ProtoField.uint16("tunvnet.flags", "Flags", base.HEX)
f.flag_full = ProtoField.bool("tunvnet.flags.full_table", "Full table", 16, nil, F_FULL_TABLE)
f.flag_ackreq = ProtoField.bool("tunvnet.flags.ack_req", "Ack requested", 16, nil, F_ACK_REQ)
f.flag_ack = ProtoField.bool("tunvnet.flags.ack", "Ack", 16, nil, F_ACK)
f.flag_fwd = ProtoField.bool("tunvnet.flags.forwarded", "Forwarded", 16, nil, F_FORWARDED)
f.flag_vnet = ProtoField.bool("tunvnet.flags.vnet_hdr", "virtio-net header", 16, nil,
			      F_VNET_HDR)
f.flag_handed = ProtoField.bool("tunvnet.flags.handed_over", "Handed over", 16, nil,
				F_HANDED_OVER)
f.flag_sealed = ProtoField.bool("tunvnet.flags.sealed", "Sealed", 16, nil, F_SEALED)
f.length = ProtoField.uint32("tunvnet.length", "Length", base.DEC)

f.seal_gen = ProtoField.uint32("tunvnet.seal.generation", "Key generation")
f.seal_ctr = ProtoField.uint64("tunvnet.seal.counter", "Counter")
f.sealed = ProtoField.bytes("tunvnet.sealed", "Sealed payload")
f.sealed_len = ProtoField.uint32("tunvnet.sealed.length", "Sealed payload length")
f.seal_tag = ProtoField.bytes("tunvnet.seal.tag", "GCM tag")

f.name = ProtoField.string("tunvnet.name", "Node name")
f.family = ProtoField.uint8("tunvnet.family", "Family", base.DEC, families)
f.addr4 = ProtoField.ipv4("tunvnet.addr", "Address")
f.addr6 = ProtoField.ipv6("tunvnet.addr6", "Address")
f.port = ProtoField.uint16("tunvnet.port", "Port")
f.pflags = ProtoField.uint8("tunvnet.protection", "Data protection", base.HEX)
f.pflag_sealed = ProtoField.bool("tunvnet.protection.sealed", "Data links sealed", 8, nil,
				 MSG_SEALED)
f.substrates = ProtoField.uint32("tunvnet.substrates", "Substrates", base.HEX)
f.sub_tcp = ProtoField.bool("tunvnet.substrates.tcp", "tcp", 32, nil, 0x00000001)
f.link = ProtoField.uint64("tunvnet.link", "Link")
f.substrate = ProtoField.uint8("tunvnet.substrate", "Substrate", base.DEC, substrates)
f.mac = ProtoField.bytes("tunvnet.mac", "Proof (MAC)")
f.count = ProtoField.uint16("tunvnet.count", "Count")
f.member = ProtoField.none("tunvnet.member", "Member")
f.route = ProtoField.none("tunvnet.route", "Route")
f.vip4 = ProtoField.ipv4("tunvnet.vip", "VIP")
f.vip6 = ProtoField.ipv6("tunvnet.vip6", "VIP")
f.epoch = ProtoField.uint64("tunvnet.epoch", "Epoch")
f.rflags = ProtoField.uint8("tunvnet.route_flags", "Route flags", base.HEX)
f.withdrawn = ProtoField.bool("tunvnet.withdrawn", "Withdrawn", 8, nil, 0x01)
f.node = ProtoField.string("tunvnet.node", "Node")
f.ms = ProtoField.uint64("tunvnet.ms", "Sender's monotonic ms")
f.op = ProtoField.uint64("tunvnet.op", "Operation")
f.netns = ProtoField.string("tunvnet.netns", "Network namespace")
f.status = ProtoField.uint8("tunvnet.status", "Status")
f.msg = ProtoField.string("tunvnet.msg", "Message")
f.vnet = ProtoField.none("tunvnet.vnet_hdr", "virtio-net header")
f.vnet_flags = ProtoField.uint8("tunvnet.vnet.flags", "Flags", base.HEX)
f.vnet_gso = ProtoField.uint8("tunvnet.vnet.gso_type", "GSO type", base.HEX, gso_types)
f.vnet_hdrlen = ProtoField.uint16("tunvnet.vnet.hdr_len", "Header length")
f.vnet_gsosize = ProtoField.uint16("tunvnet.vnet.gso_size", "GSO size")
f.vnet_cstart = ProtoField.uint16("tunvnet.vnet.csum_start", "Checksum start")
f.vnet_coff = ProtoField.uint16("tunvnet.vnet.csum_offset", "Checksum offset")

local e_malformed = ProtoExpert.new("tunvnet.malformed", "Malformed tunvnet body",
				    expert.group.MALFORMED, expert.severity.ERROR)
local e_version = ProtoExpert.new("tunvnet.bad_version", "Unknown frame version",
				  expert.group.PROTOCOL, expert.severity.WARN)
tunvnet.experts = { e_malformed, e_version }

local prefs = tunvnet.prefs
prefs.port = Pref.uint("TCP port", 7000, "The port tunvnetd listens on")

local ip_dissector = Dissector.get("ip")
local ipv6_dissector = Dissector.get("ipv6")
local data_dissector = Dissector.get("data")
local tls_dissector = Dissector.get("tls")
local tcp_stream = Field.new("tcp.stream")

-- A body reader: each get checks the length first and reports a short body once.
local function reader(buf, tree, pinfo)
	local r = { off = 0, ok = true }
	function r.need(n)
		if not r.ok or r.off + n > buf:len() then
			if r.ok then
				tree:add_proto_expert_info(e_malformed, "body too short")
			end
			r.ok = false
			return nil
		end
		local t = buf(r.off, n)
		r.off = r.off + n
		return t
	end
	return r
end

local function add_name(r, tree, field)
	local l = r.need(1)
	if not l then return nil end
	local n = l:uint()
	local t = r.need(n)
	if not t then return nil end
	tree:add(field, t)
	return t:string()
end

-- u8 family, address (4 | 16), u16 port; family 0: no address, port 0.
local function add_sockaddr(r, tree)
	local fam = r.need(1)
	if not fam then return end
	tree:add(f.family, fam)
	if fam:uint() == 4 then
		local a = r.need(4)
		if a then tree:add(f.addr4, a) end
	elseif fam:uint() == 6 then
		local a = r.need(16)
		if a then tree:add(f.addr6, a) end
	end
	local p = r.need(2)
	if p then tree:add(f.port, p) end
end

-- u8 flags of HELLO and LINK_OPEN: whether the sender's data links are sealed.
local function add_protection(r, tree)
	local fl = r.need(1)
	if not fl then return "" end
	tree:add(f.pflags, fl):add(f.pflag_sealed, fl)
	return band(fl:uint(), MSG_SEALED) ~= 0 and "sealed" or "plain"
end

local function body_hello(buf, tree, pinfo)
	local r = reader(buf, tree, pinfo)
	local name = add_name(r, tree, f.name)
	add_sockaddr(r, tree)
	local prot = add_protection(r, tree)
	local s = r.need(4)
	if s then tree:add(f.substrates, s):add(f.sub_tcp, s) end
	return name and ("from " .. name .. ", data links " .. prot) or ""
end

local function body_link_open(buf, tree, pinfo)
	local r = reader(buf, tree, pinfo)
	local name = add_name(r, tree, f.name)
	local link = r.need(8)
	if link then tree:add(f.link, link) end
	local sub = r.need(1)
	if sub then tree:add(f.substrate, sub) end
	local prot = add_protection(r, tree)
	local mac = r.need(32)
	if mac then tree:add(f.mac, mac) end
	if not (name and link) then return "" end
	return string.format("from %s, link %s, %s", name, tostring(link:uint64()), prot)
end

local function body_link_ok(buf, tree, pinfo)
	local r = reader(buf, tree, pinfo)
	local link = r.need(8)
	if link then tree:add(f.link, link) end
	local mac = r.need(32)
	if mac then tree:add(f.mac, mac) end
	return link and ("link " .. tostring(link:uint64())) or ""
end

local function body_peers(buf, tree, pinfo)
	local r = reader(buf, tree, pinfo)
	local c = r.need(2)
	if not c then return "" end
	tree:add(f.count, c)
	local names = {}
	for _ = 1, c:uint() do
		local start = r.off
		local st = tree:add(f.member, buf(r.off, 0))
		local name = add_name(r, st, f.name)
		add_sockaddr(r, st)
		if not r.ok then break end
		st:set_len(r.off - start)
		st:append_text(": " .. name)
		names[#names + 1] = name
	end
	return table.concat(names, " ")
end

local function body_routes(buf, tree, pinfo)
	local r = reader(buf, tree, pinfo)
	local c = r.need(2)
	if not c then return "" end
	tree:add(f.count, c)
	local shown = {}
	for _ = 1, c:uint() do
		local start = r.off
		local st = tree:add(f.route, buf(r.off, 0))
		local fam = r.need(1)
		if not fam then break end
		st:add(f.family, fam)
		local vip, a
		if fam:uint() == 4 then
			a = r.need(4)
			if a then st:add(f.vip4, a); vip = tostring(a:ipv4()) end
		elseif fam:uint() == 6 then
			a = r.need(16)
			if a then st:add(f.vip6, a); vip = tostring(a:ipv6()) end
		else
			st:add_proto_expert_info(e_malformed, "unknown address family")
			break
		end
		local ep = r.need(8)
		if ep then st:add(f.epoch, ep) end
		local fl = r.need(1)
		if fl then
			local ft = st:add(f.rflags, fl)
			ft:add(f.withdrawn, fl)
		end
		local node = add_name(r, st, f.node)
		if not r.ok then break end
		st:set_len(r.off - start)
		local text = string.format("%s -> %s epoch %s%s", vip, node, tostring(ep:uint64()),
					   band(fl:uint(), 1) ~= 0 and " withdrawn" or "")
		st:append_text(": " .. text)
		shown[#shown + 1] = text
	end
	return table.concat(shown, ", ")
end

local function body_ping(buf, tree, pinfo)
	local r = reader(buf, tree, pinfo)
	local t = r.need(8)
	if t then tree:add(f.ms, t) end
	return ""
end

local function body_migrate(buf, tree, pinfo)
	local r = reader(buf, tree, pinfo)
	local op = r.need(8)
	if op then tree:add(f.op, op) end
	local l = r.need(2)
	if l then
		local ns = r.need(l:uint())
		if ns then tree:add(f.netns, ns) end
	end
	local n = r.need(1)
	if not n then return "" end
	tree:add(f.count, n)
	for _ = 1, n:uint() do
		local fam = r.need(1)
		if not fam then break end
		if fam:uint() == 4 then
			local a = r.need(4)
			if a then tree:add(f.vip4, a) end
		elseif fam:uint() == 6 then
			local a = r.need(16)
			if a then tree:add(f.vip6, a) end
		else
			break
		end
	end
	return ""
end

local function body_migrate_done(buf, tree, pinfo)
	local r = reader(buf, tree, pinfo)
	for _, fld in ipairs({ { f.op, 8 }, { f.status, 1 }, { f.epoch, 8 } }) do
		local t = r.need(fld[2])
		if t then tree:add(fld[1], t) end
	end
	local l = r.need(2)
	if l then
		local m = r.need(l:uint())
		if m then tree:add(f.msg, m) end
	end
	return ""
end

local function body_data(buf, tree, pinfo, flags, root)
	local off = 0
	if band(flags, F_VNET_HDR) ~= 0 and buf:len() >= VNET_HDR_LEN then
		-- virtio-net header fields are little-endian (TUN on x86, virtio 1.0)
		local v = tree:add(f.vnet, buf(0, VNET_HDR_LEN))
		v:add(f.vnet_flags, buf(0, 1))
		v:add(f.vnet_gso, buf(1, 1))
		v:add_le(f.vnet_hdrlen, buf(2, 2))
		v:add_le(f.vnet_gsosize, buf(4, 2))
		v:add_le(f.vnet_cstart, buf(6, 2))
		v:add_le(f.vnet_coff, buf(8, 2))
		off = VNET_HDR_LEN
	end
	if buf:len() <= off then return "" end
	local inner = buf(off):tvb()
	local ver = rshift(inner(0, 1):uint(), 4)
	if ver == 4 then
		ip_dissector:call(inner, pinfo, root)
	elseif ver == 6 then
		ipv6_dissector:call(inner, pinfo, root)
	else
		data_dissector:call(inner, pinfo, root)
	end
	return ""
end

-- A sealed payload: only its framing can be shown; the contents are AES-GCM ciphertext
-- under keys that never leave the two daemons.
local function body_sealed(buf, tree, pinfo)
	if buf:len() < SEAL_HDR_LEN + SEAL_TAG_LEN then
		tree:add_proto_expert_info(e_malformed, "sealed payload too short")
		return "sealed, too short"
	end
	local n = buf:len() - SEAL_HDR_LEN - SEAL_TAG_LEN
	local gen, ctr = buf(0, 4), buf(4, 8)
	tree:add(f.seal_gen, gen)
	tree:add(f.seal_ctr, ctr)
	local ct = buf(SEAL_HDR_LEN, n)
	tree:add(f.sealed, ct):set_text(string.format("Sealed payload (%d bytes)", n))
	tree:add(f.sealed_len, ct, n):set_generated()
	tree:add(f.seal_tag, buf(SEAL_HDR_LEN + n, SEAL_TAG_LEN))
	return string.format("sealed gen %d ctr %s (%d bytes)", gen:uint(),
			     tostring(ctr:uint64()), n)
end

local bodies = {
	[1] = body_hello, [LINK_OPEN] = body_link_open, [3] = body_peers, [4] = body_routes,
	[6] = body_ping, [7] = body_ping, [8] = body_migrate, [9] = body_migrate_done,
	[LINK_OK] = body_link_ok,
}

local function pdu_len(tvb, pinfo, offset)
	local len = tvb(offset + 4, 4):uint()
	if len > MAX_PAYLOAD then
		-- not a frame we know: take the rest, the dissector will say what is wrong
		return tvb:len() - offset
	end
	return HDR_LEN + len
end

-- Returns the frame's Info text and whether an inner IP packet was shown (which then
-- writes the columns).
local function dissect_frame(tvb, pinfo, root)
	local version = tvb(0, 1):uint()
	local ftype = tvb(1, 1):uint()
	local flags = tvb(2, 2):uint()
	local len = tvb(4, 4):uint()
	local name = types[ftype] or string.format("type %d", ftype)
	local tree = root:add(tunvnet, tvb(0, math.min(tvb:len(), HDR_LEN + len)),
			      "tunvnet " .. name)

	tree:add(f.version, tvb(0, 1))
	if version ~= VERSION then
		tree:add_proto_expert_info(e_version)
	end
	tree:add(f.type, tvb(1, 1))
	local ft = tree:add(f.flags, tvb(2, 2))
	for _, fl in ipairs({ f.flag_full, f.flag_ackreq, f.flag_ack, f.flag_fwd, f.flag_vnet,
			      f.flag_handed, f.flag_sealed }) do
		ft:add(fl, tvb(2, 2))
	end
	tree:add(f.length, tvb(4, 4))

	local info, inner = name, false
	if version ~= VERSION then
		-- another version's bodies may be laid out otherwise: not guessed at
		info = string.format("%s (version %d)", info, version)
	elseif tvb:len() > HDR_LEN and len > 0 then
		local body = tvb(HDR_LEN, math.min(len, tvb:len() - HDR_LEN)):tvb()
		local text
		if band(flags, F_SEALED) ~= 0 then
			text = body_sealed(body, tree, pinfo)
		elseif ftype == DATA then
			text = body_data(body, tree, pinfo, flags, root)
			inner = true
		elseif bodies[ftype] then
			text = bodies[ftype](body, tree, pinfo)
		end
		if text and text ~= "" then
			info = info .. " " .. text
		end
	end
	tree:append_text(string.format(", %d bytes", len))
	return info, inner
end

local function dissect_frames(tvb, pinfo, root)
	local infos, inners = {}, 0
	local function one(t, p, r)
		local info, inner = dissect_frame(t, p, r)
		if inner then
			inners = inners + 1
		else
			infos[#infos + 1] = info
		end
		return t:len()
	end
	local n = dissect_tcp_pdus(tvb, root, HDR_LEN, pdu_len, one)
	-- Plain DATA frames let IP write the columns (its addresses, then TCP's); the others
	-- say what they are, after those if both are in the segment.
	if #infos > 0 and inners > 0 then
		pinfo.cols.info:append("; " .. table.concat(infos, "; "))
	elseif #infos > 0 then
		pinfo.cols.protocol = "tunvnet"
		pinfo.cols.info = table.concat(infos, "; ")
	end
	return n
end

-- What each TCP connection on the port is, decided by its first bytes: "tls" (a control
-- link) or "frames" (a data link). Remembered, since later segments start anywhere.
local streams = {}
-- While the TLS dissector runs, what it calls us with is decrypted control frames.
local in_tls = false

function tunvnet.init()
	streams = {}
	in_tls = false
end

-- A TLS record header: content type 20..23 (change_cipher_spec, alert, handshake,
-- application_data), version 3.1..3.4 (a TLS 1.3 ClientHello's record says 3.1).
local function looks_tls(tvb)
	if tvb:len() < 3 then return false end
	local ct, major, minor = tvb(0, 1):uint(), tvb(1, 1):uint(), tvb(2, 1):uint()
	return ct >= 0x14 and ct <= 0x17 and major == 3 and minor >= 1 and minor <= 4
end

local function looks_frame(tvb)
	if tvb:len() < 2 or not types[tvb(1, 1):uint()] then return false end
	return tvb:len() < HDR_LEN or tvb(4, 4):uint() <= MAX_PAYLOAD
end

local function stream_key(pinfo)
	local s = tcp_stream()
	if s then return s.value end
	local a = tostring(pinfo.src) .. ":" .. pinfo.src_port
	local b = tostring(pinfo.dst) .. ":" .. pinfo.dst_port
	return a < b and (a .. " " .. b) or (b .. " " .. a)
end

function tunvnet.dissector(tvb, pinfo, root)
	if in_tls then
		return dissect_frames(tvb, pinfo, root)
	end
	local key = stream_key(pinfo)
	local kind = streams[key]
	if not kind then
		if looks_tls(tvb) then
			kind = "tls"
		elseif looks_frame(tvb) then
			kind = "frames"
		else
			return 0 -- joined in the middle of a record: not ours to guess
		end
		streams[key] = kind
	end
	if kind == "frames" then
		return dissect_frames(tvb, pinfo, root)
	end
	in_tls = true
	local ok, n = pcall(tls_dissector.call, tls_dissector, tvb, pinfo, root)
	in_tls = false
	if not ok then error(n) end
	return n
end

-- The port, for connections (TCP) and for what TLS decrypts on it (control frames).
local registered
local function register_port()
	local tcp, tls = DissectorTable.get("tcp.port"), DissectorTable.get("tls.port")
	if registered then
		tcp:remove(registered, tunvnet)
		tls:remove(registered, tunvnet)
	end
	registered = prefs.port
	tcp:add(registered, tunvnet)
	tls:add(registered, tunvnet)
end

function tunvnet.prefs_changed()
	register_port()
end

register_port()
