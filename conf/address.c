/*
 * conf/address.c — numeric "IP:PORT" parsing with inet_pton.
 *
 * The messages try to name the likely mistake (a hostname, a missing
 * port, IPv6 without brackets) because an operator reads them at 3 am.
 */
#include "conf/address.h"
#include "common/error.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADDR_HINT "expected IPv4:PORT or [IPv6]:PORT, e.g. 127.0.0.1:8080 or [::1]:8080"

static int parse_port(const char *s, const char *whole, uint16_t *port,
		      char *err, size_t errlen)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0) {
		err_set(err, errlen, "missing port in \"%s\": " ADDR_HINT, whole);
		return -1;
	}
	if (n > 5 || strspn(s, "0123456789") != n ||
	    (v = strtoul(s, NULL, 10)) < 1 || v > 65535) {
		err_set(err, errlen, "bad port \"%s\" in \"%s\": a port is a number "
			"from 1 to 65535", s, whole);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

static int hostname_err(const char *host, char *err, size_t errlen)
{
	err_set(err, errlen, "\"%s\" is a hostname; only numeric addresses are "
		"accepted (vigil never resolves DNS): " ADDR_HINT, host);
	return -1;
}

static int parse_v6(const char *s, struct conf_address *out, char *err, size_t errlen)
{
	const char *close = strchr(s, ']');
	char host[INET6_ADDRSTRLEN + 1];
	size_t len;

	if (close == NULL) {
		err_set(err, errlen, "missing ']' in \"%s\": " ADDR_HINT, s);
		return -1;
	}
	len = (size_t)(close - s - 1);
	if (len == 0 || len >= sizeof(host)) {
		err_set(err, errlen, "bad IPv6 address in \"%s\": " ADDR_HINT, s);
		return -1;
	}
	memcpy(host, s + 1, len);
	host[len] = '\0';
	if (inet_pton(AF_INET6, host, &out->bin.v6) != 1) {
		if (strpbrk(host, "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ") != NULL)
			return hostname_err(host, err, errlen);
		err_set(err, errlen, "\"%s\" is not a valid IPv6 address (in \"%s\")", host, s);
		return -1;
	}
	if (close[1] != ':') {
		err_set(err, errlen, "missing port in \"%s\": " ADDR_HINT, s);
		return -1;
	}
	out->family = AF_INET6;
	return parse_port(close + 2, s, &out->port, err, errlen);
}

static int parse_v4(const char *s, struct conf_address *out, char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':');
	char host[256];
	size_t len = colon ? (size_t)(colon - s) : strlen(s);

	if (colon != NULL && memchr(s, ':', len) != NULL) {
		err_set(err, errlen, "\"%s\" looks like IPv6 without brackets: write "
			"[IPv6]:PORT, e.g. [::1]:8080", s);
		return -1;
	}
	if (len == 0 || len >= sizeof(host)) {
		err_set(err, errlen, "bad address \"%s\": " ADDR_HINT, s);
		return -1;
	}
	memcpy(host, s, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, &out->bin.v4) != 1) {
		for (const char *p = host; *p != '\0'; p++)
			if (isalpha((unsigned char)*p))
				return hostname_err(host, err, errlen);
		err_set(err, errlen, "\"%s\" is not a valid IPv4 address (in \"%s\")", host, s);
		return -1;
	}
	if (colon == NULL) {
		err_set(err, errlen, "missing port in \"%s\": " ADDR_HINT, s);
		return -1;
	}
	out->family = AF_INET;
	return parse_port(colon + 1, s, &out->port, err, errlen);
}

int conf_parse_address(const char *s, struct conf_address *out, char *err, size_t errlen)
{
	struct conf_address a;
	int rc;

	if (s == NULL || *s == '\0') {
		err_set(err, errlen, "empty address: " ADDR_HINT);
		return -1;
	}
	memset(&a, 0, sizeof(a));
	rc = s[0] == '[' ? parse_v6(s, &a, err, errlen) : parse_v4(s, &a, err, errlen);
	if (rc < 0)
		return -1;
	/* Store the canonical spelling so that probes and duplicates agree. */
	if (inet_ntop(a.family, &a.bin, a.host, sizeof(a.host)) == NULL) {
		err_set(err, errlen, "cannot format address \"%s\"", s);
		return -1;
	}
	*out = a;
	return 0;
}

bool conf_address_equal(const struct conf_address *a, const struct conf_address *b)
{
	if (a->family != b->family || a->port != b->port)
		return false;
	if (a->family == AF_INET)
		return memcmp(&a->bin.v4, &b->bin.v4, sizeof(a->bin.v4)) == 0;
	return memcmp(&a->bin.v6, &b->bin.v6, sizeof(a->bin.v6)) == 0;
}
