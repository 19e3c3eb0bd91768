/* tests/unit/harness.c — the unit test programs' main (see harness.h). */
#include "tests/unit/harness.h"

#include <curl/curl.h>
#include <stdlib.h>

int main(void)
{
	SRunner *sr;
	int failed;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return EXIT_FAILURE;
	if (unit_setup && unit_setup() != 0) {
		curl_global_cleanup();
		return EXIT_FAILURE;
	}
	sr = srunner_create(unit_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (unit_cleanup)
		unit_cleanup();
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
