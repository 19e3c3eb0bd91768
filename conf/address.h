/*
 * conf/address.h — "IPv4:PORT" and "[IPv6]:PORT", numeric only.
 *
 * Hostnames are refused on purpose: resolving one would block the event
 * loop, and a failover must not depend on DNS being up.
 */
#ifndef VIGIL_CONF_ADDRESS_H
#define VIGIL_CONF_ADDRESS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conf_address {
	int family;                   /* AF_INET or AF_INET6 */
	char host[INET6_ADDRSTRLEN];  /* canonical numeric form, no brackets */
	uint16_t port;                /* 1..65535 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} bin;                        /* for comparing two addresses */
};

/* 0 and *out filled, or -1 with a message in err that says what is accepted. */
int conf_parse_address(const char *s, struct conf_address *out, char *err, size_t errlen);

/* true when a and b are the same IP and port (whatever their spelling). */
bool conf_address_equal(const struct conf_address *a, const struct conf_address *b);

#endif
