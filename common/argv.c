/* common/argv.c — NULL-terminated string vectors (see argv.h). */
#include "common/argv.h"

#include <stdlib.h>
#include <string.h>

int argv_dup(char *const *argv, char ***out)
{
	size_t n = 0;

	*out = NULL;
	if (!argv)
		return 0;
	while (argv[n])
		n++;
	*out = calloc(n + 1, sizeof(**out));
	for (size_t i = 0; *out && i < n; i++) {
		(*out)[i] = strdup(argv[i]);
		if (!(*out)[i]) {
			argv_free(*out);
			*out = NULL;
		}
	}
	return *out ? 0 : -1;
}

void argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}
