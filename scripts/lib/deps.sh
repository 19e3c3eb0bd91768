# shellcheck shell=bash
# scripts/lib/deps.sh — the one install step shared by scripts/test and
# scripts/demo (sourced, not run).  It installs only the Debian packages that
# are missing, so a machine that already has them needs neither root nor the
# network, and a fresh minimal Debian 12 gets everything in one apt run.
#
# Installing nginx, haproxy or PostgreSQL may start a system instance (nginx
# on port 80, Debian's cluster "main" on 5432) when no policy-rc.d forbids
# it; we stop any such instance our install started, and leave alone one
# that was running before.  The PostgreSQL tests run servers of their own.

VIGIL_DEB_PACKAGES=(
	build-essential autoconf automake libtool pkg-config
	libevent-dev libcurl4-openssl-dev libjansson-dev libconfig-dev check
	libssl-dev libzstd-dev
	nginx-light haproxy python3 python3-pytest
	postgresql python3-psycopg2
	nftables iproute2 curl procps ca-certificates
)

# Is Debian package $1 installed (not merely known or half-configured)?
vigil_pkg_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# Pid of the live system service whose pid file is $1, or nothing.
vigil_service_pid() {
	local pid
	[ -r "$1" ] || return 0
	pid=$(tr -dc '0-9' <"$1")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		echo "$pid"
	fi
}

# Stop the system service $1 (pid file $2) if it runs now but did not
# before our install ($3 = its pid before, may be empty).
vigil_stop_started_service() {
	local name=$1 pidfile=$2 before=$3 now
	now=$(vigil_service_pid "$pidfile")
	[ -n "$now" ] || return 0
	[ "$now" != "$before" ] || return 0
	echo "deps: stopping the system $name our install started (pid $now)"
	service "$name" stop >/dev/null 2>&1 || true
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$now" 2>/dev/null || return 0
		sleep 0.3
	done
	kill -TERM "$now" 2>/dev/null || true
	sleep 1
	kill -KILL "$now" 2>/dev/null || true
}

# The running Debian PostgreSQL clusters, one "PIDFILE:PID" per line.
vigil_pg_cluster_pids() {
	local f pid
	for f in /run/postgresql/*.pid; do
		[ -e "$f" ] || continue
		pid=$(vigil_service_pid "$f")
		[ -z "$pid" ] || echo "$f:$pid"
	done
}

# Stop each Debian PostgreSQL cluster that runs now but was not in $1 (the
# list vigil_pg_cluster_pids gave before our install).  Only that cluster:
# `service postgresql stop` would stop every cluster of the machine.
vigil_stop_started_pg_clusters() {
	local before=$1 entry f pid ver name
	while IFS= read -r entry; do
		[ -n "$entry" ] || continue
		if printf '%s\n' "$before" | grep -qxF -- "$entry"; then
			continue
		fi
		f=${entry%:*}
		pid=${entry##*:}
		name=$(basename "$f" .pid) # Debian names it VERSION-CLUSTER.pid
		ver=${name%%-*}
		name=${name#*-}
		echo "deps: stopping the PostgreSQL cluster $ver/$name our install started (pid $pid)"
		pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || kill -INT "$pid" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.3
		done
		# SIGQUIT is PostgreSQL's immediate shutdown: its children go too.
		if kill -0 "$pid" 2>/dev/null; then
			kill -QUIT "$pid" 2>/dev/null || true
		fi
	done <<<"$(vigil_pg_cluster_pids)"
}

vigil_install_deps() {
	local missing=() pkg nginx_before haproxy_before pg_before
	if ! command -v dpkg-query >/dev/null 2>&1; then
		echo "deps: dpkg-query not found: this script expects Debian 12" >&2
		return 1
	fi
	for pkg in "${VIGIL_DEB_PACKAGES[@]}"; do
		vigil_pkg_installed "$pkg" || missing+=("$pkg")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		echo "deps: all ${#VIGIL_DEB_PACKAGES[@]} Debian packages present"
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing packages (${missing[*]}) and not root: install them first" >&2
		return 1
	fi
	nginx_before=$(vigil_service_pid /run/nginx.pid)
	haproxy_before=$(vigil_service_pid /run/haproxy.pid)
	pg_before=$(vigil_pg_cluster_pids)
	echo "deps: installing ${missing[*]}"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	vigil_stop_started_service nginx /run/nginx.pid "$nginx_before"
	vigil_stop_started_service haproxy /run/haproxy.pid "$haproxy_before"
	vigil_stop_started_pg_clusters "$pg_before"
}

# s3rver, the S3 server the S3 backup store's tests (test_backup_s3) run
# against, from npm into a cache outside the tree (scripts/test only: the
# demo does not need it).  Node and npm come from
# Debian only when missing: a machine may have its own Node (NodeSource's
# nodejs ships npm and conflicts with Debian's npm package).  3.7.1 works
# with Node 18 and 20 when run with --openssl-legacy-provider (its
# continuation tokens use DES), which the test sets.
VIGIL_S3RVER_VERSION=3.7.1
VIGIL_NPM_PREFIX=/var/cache/vigil/npm

vigil_install_s3rver() {
	local have=
	if [ -f "$VIGIL_NPM_PREFIX/node_modules/s3rver/package.json" ]; then
		have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
			"$VIGIL_NPM_PREFIX/node_modules/s3rver/package.json" | head -n 1)
	fi
	if [ "$have" = "$VIGIL_S3RVER_VERSION" ] && [ -x "$VIGIL_NPM_PREFIX/node_modules/.bin/s3rver" ] &&
		command -v node >/dev/null 2>&1; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: s3rver $VIGIL_S3RVER_VERSION missing from $VIGIL_NPM_PREFIX and not root: install it first" >&2
		return 1
	fi
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		echo "deps: installing nodejs npm"
		apt-get update -q
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
	fi
	echo "deps: installing s3rver $VIGIL_S3RVER_VERSION into $VIGIL_NPM_PREFIX"
	mkdir -p "$VIGIL_NPM_PREFIX"
	npm install --prefix "$VIGIL_NPM_PREFIX" --no-audit --no-fund --no-update-notifier \
		--loglevel=error "s3rver@$VIGIL_S3RVER_VERSION" >/dev/null
}
