/* vnetctl: the command-line client of tunvnetd. This file is only the dispatch table
 * and main(); each command lives in its own file (see ctl/vnetctl.h). */
#include "ctl/vnetctl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tunvnet/config.h"
#include "tunvnet/suggest.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv, const struct ctl_opts *o);
	const char *help;
} commands[] = {
	{ "status", cmd_status, "Show this node: name, address, uptime, peers, jobs, pools" },
	{ "peers", cmd_peers, "List the other nodes and the state of the link to each" },
	{ "routes", cmd_routes, "Show the route table: which node hosts each VIP" },
	{ "jobs", cmd_jobs, "List the jobs attached to this node, their TUNs and VIPs" },
	{ "attach", cmd_attach, "Give a job's network namespace a TUN device and a VIP" },
	{ "detach", cmd_detach, "Take a VIP away from the job on this node that holds it" },
	{ "suspend", cmd_suspend, "Hold a VIP's incoming packets: the first step of a move" },
	{ "resume", cmd_resume, "Deliver a suspended VIP's held packets and go on" },
	{ "activate", cmd_activate, "Announce a standby VIP here after a restore" },
	{ "migrate", cmd_migrate, "Move a VIP from this node to another in one step" },
	{ "stats", cmd_stats, "Show the packet counters and the drops by reason" },
	{ "events", cmd_events, "Show recent peer, route and job events, or follow them" },
	{ "capture", cmd_capture, "Capture packets to a pcap file or as text" },
	{ "gc", cmd_gc, "Remove what a killed vnet-up left: its VIPs and namespace" },
	{ "substrate", cmd_substrate, "Set the substrate policy, for a peer or for all" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void show_usage(FILE *out)
{
	size_t i;

	fputs("Usage: vnetctl [-s SOCKET] [--json] COMMAND [ARGS]\n\n"
	      "Queries and drives tunvnetd, the tunvnet daemon of this node, through its\n"
	      "control socket.\n\n"
	      "Commands:\n", out);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
	fputs("  help     Show the help of a command: vnetctl help COMMAND\n\n"
	      "Options (also accepted after the command):\n"
	      "  -s, --socket SOCKET  the control socket (default: $VNETCTL_SOCKET if set,\n"
	      "                       else " CONFIG_DEFAULT_SOCKET ")\n"
	      "  -j, --json           print the daemon's result as JSON\n"
	      "  -h, --help           print this help\n\n"
	      "Run 'vnetctl COMMAND --help' for a command's options, output and an example.\n",
	      out);
}

__attribute__((format(printf, 1, 2)))
static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("vnetctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nusage: vnetctl [-s SOCKET] [--json] COMMAND [ARGS]\n"
	      "(see 'vnetctl --help' for the commands)\n", stderr);
	return VNETCTL_EXIT_USAGE;
}

/* "unknown command 'atach'; did you mean 'attach'?" */
static int unknown_command(const char *name)
{
	struct suggest s;
	size_t i;

	suggest_init(&s, name);
	for (i = 0; i < NCOMMANDS; i++)
		suggest_try(&s, commands[i].name);
	suggest_try(&s, "help");
	if (suggest_result(&s))
		return bad_usage("unknown command '%s'; did you mean '%s'?", name,
				 suggest_result(&s));
	return bad_usage("unknown command '%s'", name);
}

static int find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return (int)i;
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_opts o = { .socket = getenv("VNETCTL_SOCKET") };
	char *help_argv[] = { NULL, (char *)"--help", NULL };
	int c, i, r;

	if (!o.socket || !*o.socket)
		o.socket = CONFIG_DEFAULT_SOCKET;
	opterr = 0;
	/* '+': stop at the command; its own arguments are its business */
	while ((c = getopt_long(argc, argv, "+:s:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o.socket = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			show_usage(stdout);
			return 0;
		case ':':
			return bad_usage("option '%s' needs an argument", argv[optind - 1]);
		default:
			return bad_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind == argc) {
		show_usage(stderr);
		return VNETCTL_EXIT_USAGE;
	}

	if (strcmp(argv[optind], "help") == 0) {
		/* `help --help`, like every other command's --help */
		if (optind + 1 == argc || strcmp(argv[optind + 1], "--help") == 0 ||
		    strcmp(argv[optind + 1], "-h") == 0) {
			show_usage(stdout);
			return 0;
		}
		if (optind + 2 < argc)
			return bad_usage("help takes one command, not '%s'", argv[optind + 2]);
		i = find(argv[optind + 1]);
		if (i < 0)
			return unknown_command(argv[optind + 1]);
		help_argv[0] = argv[optind + 1];
		return commands[i].run(2, help_argv, &o);
	}
	i = find(argv[optind]);
	if (i < 0)
		return unknown_command(argv[optind]);
	r = commands[i].run(argc - optind, argv + optind, &o);
	/* a full disk or a closed pipe must not look like success */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "vnetctl: writing the output failed\n");
		return VNETCTL_EXIT_ERROR;
	}
	return r;
}
