/*
 * s3/s3_config.c - S3 settings from the environment and from a credentials
 * file. Secrets are never logged or put in error messages.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

void zs3_s3_config_from_env(struct zs3_s3_config *cfg)
{
	const char *v;
	if (!cfg->endpoint)
		cfg->endpoint = env("AWS_ENDPOINT_URL");
	if (!cfg->bucket)
		cfg->bucket = env("AWS_S3_BUCKET");
	if (!cfg->region)
		cfg->region = env("AWS_DEFAULT_REGION");
	if (!cfg->access_key && !cfg->secret_key) {
		cfg->access_key = env("AWS_ACCESS_KEY_ID");
		cfg->secret_key = env("AWS_SECRET_ACCESS_KEY");
	}
	if (!cfg->session_token)
		cfg->session_token = env("AWS_SESSION_TOKEN");
	if (!cfg->allow_http && (v = env("AWS_ALLOW_HTTP")))
		cfg->allow_http = !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes");
}

static char *trim(char *s)
{
	char *e;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if (e - s >= 2 && ((s[0] == '"' && e[-1] == '"') || (s[0] == '\'' && e[-1] == '\''))) {
		e[-1] = '\0';
		s++;
	}
	return s;
}

zs3_status zs3_read_credentials_file(const char *path, char **access_key, char **secret_key)
{
	struct stat sb;
	char line[1024];
	FILE *f;
	int fd;
	zs3_status st = ZS3_OK;

	*access_key = *secret_key = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return zs3_fail(errno == ENOENT ? ZS3_EINVAL : ZS3_EAUTH,
				"credentials file '%s': %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return zs3_fail(ZS3_EINVAL, "credentials file '%s' is not a regular file", path);
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		return zs3_fail(ZS3_EAUTH,
				"credentials file '%s' is accessible by group or others (mode %04o); "
				"refusing it: chmod 600 it",
				path, (unsigned)(sb.st_mode & 07777));
	}
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return zs3_fail(ZS3_ENOMEM, "credentials file '%s': %s", path, strerror(errno));
	}
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '='), *name, *value, **slot = NULL;
		name = trim(line);
		if (!eq || *name == '#' || *name == ';' || *name == '[')
			continue;
		*eq = '\0';
		name = trim(line);
		value = trim(eq + 1);
		if (!strcasecmp(name, "access_key") || !strcasecmp(name, "aws_access_key_id"))
			slot = access_key;
		else if (!strcasecmp(name, "secret_key") || !strcasecmp(name, "aws_secret_access_key"))
			slot = secret_key;
		if (slot && !*slot && !(*slot = strdup(value)))
			st = ZS3_ENOMEM;
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	if (st == ZS3_OK && (!*access_key || !*secret_key))
		st = zs3_fail(ZS3_EINVAL, "credentials file '%s' lacks %s", path,
			      !*access_key ? "access_key" : "secret_key");
	if (st) {
		if (*secret_key)
			explicit_bzero(*secret_key, strlen(*secret_key));
		free(*access_key);
		free(*secret_key);
		*access_key = *secret_key = NULL;
	}
	return st;
}
