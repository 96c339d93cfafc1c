/*
 * fsal_zerofs/admin/main.c - the zerofs command: arguments, help and
 * dispatch. The commands live in info.c, fsck.c, browse.c and maintain.c;
 * docs/zerofs.1 is the manual.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"

#define ZEROFS_ADMIN_VERSION "0.1.0"

struct command {
	const char *name;
	int (*fn)(struct admin_opts *, int, char **);
	const char *synopsis;
	const char *help;
};

static const struct command commands[] = {
	{ "info", cmd_info, "info",
	  "Shows the tree (manifest, writer epoch, SSTs per level, WAL backlog), the store's\n"
	  "objects by kind and the filesystem's totals. Read-only: safe while a server runs.\n" },
	{ "fsck", cmd_fsck, "fsck [--repair]",
	  "Reads every live object of the tree in full and checks it (the manifest, every\n"
	  "SST's footer, index, filter and data blocks, the WAL objects); a damaged or\n"
	  "missing one is a problem no repair can fix. Then checks every invariant of the\n"
	  "filesystem: entries name live inodes of their type, cookies are indexed and\n"
	  "unique, nlink counts the entries, \"..\" is right, no inode lacks an entry, no\n"
	  "chunk lies past the end of its file, the totals match.\n"
	  "Each problem is one line starting with its code (see zerofs(1)).\n"
	  "Without --repair it is read-only and safe while a server runs.\n"
	  "  --repair   fix what can be fixed safely, each fix one atomic batch, printed;\n"
	  "             opens the store for writing (see WRITING below)\n"
	  "Exit status: 0 clean; 1 problems found (with --repair: all repaired);\n"
	  "2 with --repair: problems remain; 3 error.\n" },
	{ "ls", cmd_ls, "ls [-l] [-a] [PATH...]",
	  "Lists directories (or shows files) by their path in the filesystem, without a\n"
	  "server. Symbolic links are shown, never followed. Read-only.\n"
	  "  -l, --long   inode, type and mode, nlink, uid, gid, size, mtime (UTC), name\n"
	  "  -a, --all    also . and ..\n" },
	{ "cat", cmd_cat, "cat PATH...",
	  "Writes the contents of regular files to standard output, without a server\n"
	  "(for recovery). Read-only.\n" },
	{ "compact", cmd_compact, "compact",
	  "Flushes the WAL backlog and merges every SST into one sorted run. Opens the\n"
	  "store for writing (see WRITING below). The replaced objects stay until gc.\n" },
	{ "gc", cmd_gc, "gc [--min-age SECONDS] [--repack PERCENT]",
	  "Repacks file data out of WAL objects that are mostly garbage, compacts, then\n"
	  "deletes objects no manifest or checkpoint references: replaced SSTs, WAL objects\n"
	  "no SST points into, old manifests. Opens the store for writing (see WRITING below).\n"
	  "  --min-age SECONDS   only objects at least this old (default 3600)\n"
	  "  --repack PERCENT    repack objects whose live data is below this share of\n"
	  "                      their size (default 50; 0: no repacking)\n" },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char *store_help =
	"Store (either a ganesha config file, or flags; flags override the file):\n"
	"  --config FILE           read the FSAL { Name = ZEROFS; ... } block of an EXPORT\n"
	"  --export-id N           ...the EXPORT with Export_Id = N (needed if several)\n"
	"  --store local|s3        Store\n"
	"  --directory DIR         Directory (local store)\n"
	"  --bucket NAME           Bucket (default AWS_S3_BUCKET, else slatedb)\n"
	"  --endpoint URL          Endpoint (default AWS_ENDPOINT_URL, else AWS)\n"
	"  --region NAME           Region (default AWS_DEFAULT_REGION, else us-east-1)\n"
	"  --prefix PREFIX         Prefix (a filesystem under a key prefix)\n"
	"  --addressing MODE       Addressing: auto, path or virtual\n"
	"  --allow-http            Allow_Http = true (plain http:// endpoints)\n"
	"  --ca-file FILE          CA_File\n"
	"  --credentials-file FILE Credentials_File (mode 0600; else AWS_ACCESS_KEY_ID and\n"
	"                          AWS_SECRET_ACCESS_KEY)\n"
	"  --memory-cache-mb N     Memory_Cache_MB (block cache)\n";

static const char *write_help =
	"WRITING: compact, gc and fsck --repair open the store as its writer, which fences\n"
	"a server that has it open (its writes then fail with EROFS until it restarts).\n"
	"They refuse a store written in the last --live-window SECONDS (default 300)\n"
	"unless --force. A server that has written nothing for that long cannot be seen:\n"
	"stop the server before writing.\n"
	"  --force                 write even if the store was written recently\n"
	"  --live-window SECONDS   how recent a write counts as a live server (default 300)\n";

static void usage(FILE *f)
{
	fprintf(f, "usage: zerofs [STORE OPTIONS] COMMAND [ARGS]\n\n"
		   "Administers a ZeroFS filesystem directly in its object store (a local\n"
		   "directory or S3), without a server.\n\nCommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  zerofs %s\n", commands[i].synopsis);
	fprintf(f, "  zerofs help [COMMAND]\n\n%s\n%s\n"
		   "Exit status: 0 success (fsck: clean), 1 fsck found problems, 2 fsck --repair\n"
		   "left problems, 3 error, 4 bad usage. See zerofs(1).\n",
		store_help, write_help);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int help_command(const char *name)
{
	const struct command *c = find_command(name);
	if (!c) {
		admin_err("no command '%s' (see zerofs --help)", name);
		return ZA_USAGE;
	}
	printf("usage: zerofs [STORE OPTIONS] %s\n\n%s\n%s", c->synopsis, c->help, store_help);
	if (!strcmp(name, "compact") || !strcmp(name, "gc") || !strcmp(name, "fsck"))
		printf("\n%s", write_help);
	return ZA_OK;
}

static bool parse_u64(const char *opt, const char *v, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-') {
		admin_err("%s: \"%s\" is not a whole number", opt, v);
		return false;
	}
	*out = n;
	return true;
}

enum {
	O_CONFIG = 256, O_EXPORT_ID, O_STORE, O_DIRECTORY, O_BUCKET, O_ENDPOINT, O_REGION, O_PREFIX,
	O_ADDRESSING, O_ALLOW_HTTP, O_CA_FILE, O_CREDS, O_MEMCACHE, O_FORCE, O_LIVE, O_REPAIR,
	O_MIN_AGE, O_VERSION, O_REPACK,
};

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, O_CONFIG },
	{ "export-id", required_argument, NULL, O_EXPORT_ID },
	{ "store", required_argument, NULL, O_STORE },
	{ "directory", required_argument, NULL, O_DIRECTORY },
	{ "bucket", required_argument, NULL, O_BUCKET },
	{ "endpoint", required_argument, NULL, O_ENDPOINT },
	{ "region", required_argument, NULL, O_REGION },
	{ "prefix", required_argument, NULL, O_PREFIX },
	{ "addressing", required_argument, NULL, O_ADDRESSING },
	{ "allow-http", no_argument, NULL, O_ALLOW_HTTP },
	{ "ca-file", required_argument, NULL, O_CA_FILE },
	{ "credentials-file", required_argument, NULL, O_CREDS },
	{ "memory-cache-mb", required_argument, NULL, O_MEMCACHE },
	{ "force", no_argument, NULL, O_FORCE },
	{ "live-window", required_argument, NULL, O_LIVE },
	{ "repair", no_argument, NULL, O_REPAIR },
	{ "min-age", required_argument, NULL, O_MIN_AGE },
	{ "repack", required_argument, NULL, O_REPACK },
	{ "long", no_argument, NULL, 'l' },
	{ "all", no_argument, NULL, 'a' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* The FSAL key each store flag sets. */
static const char *flag_key(int opt)
{
	switch (opt) {
	case O_STORE: return "Store";
	case O_DIRECTORY: return "Directory";
	case O_BUCKET: return "Bucket";
	case O_ENDPOINT: return "Endpoint";
	case O_REGION: return "Region";
	case O_PREFIX: return "Prefix";
	case O_ADDRESSING: return "Addressing";
	case O_ALLOW_HTTP: return "Allow_Http";
	case O_CA_FILE: return "CA_File";
	case O_CREDS: return "Credentials_File";
	case O_MEMCACHE: return "Memory_Cache_MB";
	default: return NULL;
	}
}

int main(int argc, char **argv)
{
	struct admin_opts o;
	struct flag {
		const char *key, *value;
	} flags[32];
	size_t n_flags = 0;
	const char *config = NULL;
	long export_id = -1;
	bool want_help = false, repair_set = false, min_age_set = false, ls_flags = false;
	int opt, rc;

	memset(&o, 0, sizeof(o));
	zfs_store_config_init(&o.cfg);
	o.live_window_s = 300;
	o.min_age_s = 3600;
	o.repack_pct = 50;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+lah", long_opts, NULL)) != -1) {
		const char *key = flag_key(opt);
		if (key) {
			if (n_flags == sizeof(flags) / sizeof(flags[0])) {
				admin_err("too many options");
				return ZA_USAGE;
			}
			flags[n_flags++] = (struct flag){ key, opt == O_ALLOW_HTTP ? "true" : optarg };
			continue;
		}
		switch (opt) {
		case O_CONFIG: config = optarg; break;
		case O_EXPORT_ID: {
			uint64_t v;
			if (!parse_u64("--export-id", optarg, &v) || v > 65535)
				return ZA_USAGE;
			export_id = (long)v;
			break;
		}
		case O_FORCE: o.force = true; break;
		case O_LIVE:
			if (!parse_u64("--live-window", optarg, &o.live_window_s))
				return ZA_USAGE;
			break;
		case O_REPAIR: o.repair = repair_set = true; break;
		case O_MIN_AGE:
			if (!parse_u64("--min-age", optarg, &o.min_age_s) || o.min_age_s > UINT64_MAX / 1000)
				return ZA_USAGE;
			min_age_set = true;
			break;
		case O_REPACK:
			if (!parse_u64("--repack", optarg, &o.repack_pct) || o.repack_pct > 100) {
				admin_err("--repack takes a percentage, 0 to 100");
				return ZA_USAGE;
			}
			min_age_set = true; /* gc only, as --min-age */
			break;
		case 'l': o.long_format = ls_flags = true; break;
		case 'a': o.all_names = ls_flags = true; break;
		case 'h': want_help = true; break;
		case O_VERSION: printf("zerofs %s\n", ZEROFS_ADMIN_VERSION); return ZA_OK;
		default:
			admin_err("unknown option or missing value: %s (see zerofs --help)",
				  argv[optind - 1]);
			return ZA_USAGE;
		}
	}
	if (optind >= argc) {
		if (want_help) {
			usage(stdout);
			return ZA_OK;
		}
		usage(stderr);
		return ZA_USAGE;
	}
	const char *name = argv[optind++];
	/* options after the command too (GNU order); "--" ends them */
	int rest_argc = 0;
	char **rest = calloc((size_t)argc, sizeof(char *));
	if (!rest)
		return ZA_ERROR;
	while (optind < argc) {
		if (argv[optind][0] != '-' || !strcmp(argv[optind], "-")) {
			rest[rest_argc++] = argv[optind++];
			continue;
		}
		if (!strcmp(argv[optind], "--")) {
			for (optind++; optind < argc;)
				rest[rest_argc++] = argv[optind++];
			break;
		}
		int before = optind;
		opt = getopt_long(argc, argv, "+lah", long_opts, NULL);
		if (opt == -1) {
			optind = before + 1;
			continue;
		}
		const char *key = flag_key(opt);
		if (key && n_flags < sizeof(flags) / sizeof(flags[0])) {
			flags[n_flags++] = (struct flag){ key, opt == O_ALLOW_HTTP ? "true" : optarg };
			continue;
		}
		switch (opt) {
		case O_CONFIG: config = optarg; break;
		case O_EXPORT_ID: {
			uint64_t v;
			if (!parse_u64("--export-id", optarg, &v) || v > 65535) {
				free(rest);
				return ZA_USAGE;
			}
			export_id = (long)v;
			break;
		}
		case O_FORCE: o.force = true; break;
		case O_LIVE:
			if (!parse_u64("--live-window", optarg, &o.live_window_s)) {
				free(rest);
				return ZA_USAGE;
			}
			break;
		case O_REPAIR: o.repair = repair_set = true; break;
		case O_MIN_AGE:
			if (!parse_u64("--min-age", optarg, &o.min_age_s) || o.min_age_s > UINT64_MAX / 1000) {
				free(rest);
				return ZA_USAGE;
			}
			min_age_set = true;
			break;
		case O_REPACK:
			if (!parse_u64("--repack", optarg, &o.repack_pct) || o.repack_pct > 100) {
				admin_err("--repack takes a percentage, 0 to 100");
				free(rest);
				return ZA_USAGE;
			}
			min_age_set = true; /* gc only, as --min-age */
			break;
		case 'l': o.long_format = ls_flags = true; break;
		case 'a': o.all_names = ls_flags = true; break;
		case 'h': want_help = true; break;
		case O_VERSION: break;
		default:
			admin_err("unknown option or missing value: %s (see zerofs help %s)",
				  argv[before], name);
			free(rest);
			return ZA_USAGE;
		}
	}

	if (!strcmp(name, "help") || want_help) {
		rc = !strcmp(name, "help") ? (rest_argc ? help_command(rest[0]) : (usage(stdout), ZA_OK))
					   : help_command(name);
		free(rest);
		return rc;
	}
	const struct command *c = find_command(name);
	rc = ZA_USAGE;
	if (!c)
		admin_err("no command '%s' (see zerofs --help)", name);
	else if (repair_set && strcmp(name, "fsck"))
		admin_err("--repair applies to fsck only");
	else if (min_age_set && strcmp(name, "gc"))
		admin_err("--min-age and --repack apply to gc only");
	else if (ls_flags && strcmp(name, "ls"))
		admin_err("-l and -a apply to ls only");
	else if (!config && n_flags == 0)
		admin_err("which filesystem? give --config FILE [--export-id N] or --store local "
			  "--directory DIR or --store s3 --bucket NAME ... (see zerofs --help)");
	else
		rc = ZA_OK;
	if (rc == ZA_OK && config)
		rc = admin_load_ganesha_config(config, export_id, &o.cfg);
	else if (rc == ZA_OK && export_id >= 0) {
		admin_err("--export-id needs --config");
		rc = ZA_USAGE;
	}
	for (size_t i = 0; i < n_flags && rc == ZA_OK; i++) {
		char err[512];
		if (zfs_store_config_set(&o.cfg, flags[i].key, flags[i].value, err, sizeof(err))) {
			admin_err("%s", err);
			rc = ZA_USAGE;
		}
	}
	if (rc == ZA_OK) {
		char err[512];
		if (zfs_store_config_check(&o.cfg, err, sizeof(err))) {
			admin_err("%s", err);
			rc = config ? ZA_ERROR : ZA_USAGE;
		}
	}
	if (rc == ZA_OK)
		rc = c->fn(&o, rest_argc, rest);
	zfs_store_config_free(&o.cfg);
	free(rest);
	return rc;
}
