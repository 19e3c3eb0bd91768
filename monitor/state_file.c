/* monitor/state_file.c — persisted roles per cluster (see state_file.h). */
#include "monitor/state_file.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"

static void state_path(char *buf, size_t len, const char *dir, const char *cluster)
{
	snprintf(buf, len, "%s/%s.state.json", dir, cluster);
}

int state_file_load(const char *state_dir, const char *cluster, struct mon_saved_state *out,
		    char *err, size_t errlen)
{
	char path[4096], ferr[256], *data = NULL;
	size_t len;
	json_error_t jerr;
	json_t *root, *primary, *epoch;
	int rc;

	state_path(path, sizeof(path), state_dir, cluster);
	rc = fs_read_all(path, 65536, &data, &len, ferr, sizeof(ferr));
	if (rc != 0) {
		if (rc < 0)
			snprintf(err, errlen, "%s", ferr);
		return rc;
	}
	root = json_loadb(data, len, 0, &jerr);
	free(data);
	if (!root) {
		snprintf(err, errlen, "parse %s: line %d: %s", path, jerr.line, jerr.text);
		return -1;
	}
	primary = json_object_get(root, "primary");
	epoch = json_object_get(root, "epoch");
	if (!json_is_string(primary) || !json_is_integer(epoch) || json_integer_value(epoch) < 0 ||
	    strlen(json_string_value(primary)) >= sizeof(out->primary)) {
		snprintf(err, errlen, "parse %s: want {\"primary\": name, \"epoch\": n}", path);
		json_decref(root);
		return -1;
	}
	snprintf(out->primary, sizeof(out->primary), "%s", json_string_value(primary));
	out->epoch = (uint64_t)json_integer_value(epoch);
	json_decref(root);
	return 0;
}

int state_file_save(const char *state_dir, const char *cluster, const struct mon_saved_state *st,
		    char *err, size_t errlen)
{
	char path[4096], *text;
	json_t *root;
	int rc;

	state_path(path, sizeof(path), state_dir, cluster);
	root = json_pack("{s:s, s:I}", "primary", st->primary, "epoch", (json_int_t)st->epoch);
	if (!root) {
		snprintf(err, errlen, "encode state of %s: out of memory", cluster);
		return -1;
	}
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text) {
		snprintf(err, errlen, "encode state of %s: out of memory", cluster);
		return -1;
	}
	rc = fs_write_atomic(path, text, strlen(text), 0600, err, errlen);
	free(text);
	return rc;
}
