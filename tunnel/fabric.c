/* Words for the fabric's completion statuses and events (verbs_fabric.h), shared by
 * both fabrics. */
#include "tunnel/verbs_fabric.h"

const char *fabric_wc_status_str(enum fabric_wc_status s)
{
	static const char *const names[] = {
		[FABRIC_WC_SUCCESS] = "success",
		[FABRIC_WC_WR_FLUSH_ERR] = "flushed (queue pair in error)",
		[FABRIC_WC_RNR_RETRY_EXC] = "receiver not ready, retries exceeded",
		[FABRIC_WC_RETRY_EXC] = "no answer from the far end, retries exceeded",
		[FABRIC_WC_LOC_ERR] = "local error",
		[FABRIC_WC_REM_ERR] = "refused by the far end",
		[FABRIC_WC_OTHER_ERR] = "error",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "error";
}

const char *fabric_event_str(enum fabric_event ev)
{
	switch (ev) {
	case FABRIC_EV_PORT_DOWN:
		return "port down";
	case FABRIC_EV_PORT_UP:
		return "port up";
	case FABRIC_EV_DEVICE_GONE:
		return "device removed or failed";
	case FABRIC_EV_QP_FATAL:
		return "queue pair in error";
	default:
		return "event";
	}
}
