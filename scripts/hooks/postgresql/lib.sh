# shellcheck shell=sh
# scripts/hooks/postgresql/lib.sh — what vigil's PostgreSQL hooks share.
# Sourced by each hook, never run.  POSIX sh.
#
# The env file (every hook's first argument) is *read*, never sourced: one
# KEY=VALUE per line, '#' starts a comment line, no quotes, no expansion.
# Unknown keys are errors.  See README.md beside this file for every key.
#
# SQL goes to a node over libpq (its host and port); file and process work
# (pg_ctl, pg_rewind, the marks in PGDATA) runs on the node's machine as its
# OS user: here through runuser (or directly when we already are that user),
# or through ssh when the node has NODE.ssh.  Arguments travel as argv; the
# only shell string ever built is the ssh command line, from sh_quote'd words.

# SC2016: the sh -c scripts and awk programs are single-quoted on purpose
# (their $1 and $0 are theirs); SC2034: the hooks read these globals.
# shellcheck disable=SC2016,SC2034

PATH=/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}
export PATH
set -f

PROG=${0##*/}

# Exit codes shared by every hook.
EX_FAIL=1    # the action failed, or could not be verified
EX_USAGE=2   # bad arguments or env file
EX_REFUSED=3 # refused on purpose (a stale epoch, a fenced node)

die() {
	_die_code=$1
	shift
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit "$_die_code"
}

warn() {
	printf '%s: warning: %s\n' "$PROG" "$*" >&2
}

info() {
	printf '%s: %s\n' "$PROG" "$*" >&2
}

# ---- the env file ---------------------------------------------------------

# Checks every line; prints "line N: why" for the first bad one and fails.
AWK_CHECK='
function fail(msg) { printf "line %d: %s\n", NR, msg; bad = 1; exit 1 }
/^[ \t]*(#|$)/ { next }
{
	i = index($0, "=")
	if (!i) fail("expected KEY=VALUE")
	k = substr($0, 1, i - 1); v = substr($0, i + 1)
	gsub(/^[ \t]+|[ \t]+$/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
	if (k ~ /^[A-Za-z0-9_.-]+\.[a-z_]+$/) {
		f = k; sub(/^.*\./, "", f)
		if (f !~ /^(host|port|pgdata|os_user|ssh|config_file|log_file)$/)
			fail("unknown node setting \"" f "\" in \"" k "\"")
		if (f == "port" && v !~ /^[0-9]+$/) fail(k " must be a number")
	} else if (k !~ /^(bindir|user|dbname|repl_user|passfile|sslmode|timeout|connect_timeout|peer_timeout|sync_standby_names|ssh_command|stop_mode|unreachable)$/) {
		fail("unknown setting \"" k "\"")
	}
	if (k == "stop_mode" && v !~ /^(immediate|fast)$/) fail("stop_mode must be immediate or fast")
	if (k == "unreachable" && v !~ /^(accept|refuse)$/) fail("unreachable must be accept or refuse")
	if (k ~ /^(timeout|connect_timeout)$/ && (v !~ /^[0-9]+$/ || v + 0 < 1))
		fail(k " must be a whole number of seconds, at least 1")
	if (k == "peer_timeout" && v !~ /^[0-9]+(\.[0-9]+)?$/) fail(k " must be a number of seconds")
	if (seen[k]++) fail("\"" k "\" set twice")
}'

# Prints the value of ENVIRON["K"]; fails when the key is absent.
AWK_GET='
/^[ \t]*(#|$)/ { next }
{
	i = index($0, "="); if (!i) next
	k = substr($0, 1, i - 1); v = substr($0, i + 1)
	gsub(/^[ \t]+|[ \t]+$/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
	if (k == ENVIRON["K"]) { val = v; found = 1 }
}
END { if (found) print val; exit !found }'

# conf_get KEY DEFAULT: the setting, or DEFAULT when the file lacks it.
conf_get() {
	if _cg_v=$(K=$1 awk "$AWK_GET" "$ENV_FILE"); then
		printf '%s\n' "$_cg_v"
	else
		printf '%s\n' "$2"
	fi
}

# The nodes the env file describes (those with NODE.host), one per line.
conf_nodes() {
	awk '/^[ \t]*(#|$)/ { next }
	     { i = index($0, "="); k = substr($0, 1, i - 1); gsub(/^[ \t]+|[ \t]+$/, "", k)
	       if (k ~ /\.host$/) { sub(/\.host$/, "", k); if (!seen[k]++) print k } }' "$ENV_FILE"
}

# The newest PostgreSQL whose bin dir Debian installed.
newest_bindir() {
	for _nb in /usr/lib/postgresql/*/bin; do
		[ -x "$_nb/psql" ] && printf '%s\n' "$_nb"
	done | sort -V | tail -n 1
}

# load_env FILE: check the file, then set the globals every hook uses.
load_env() {
	ENV_FILE=$1
	[ -n "$ENV_FILE" ] || die "$EX_USAGE" "no env file (the first argument)"
	[ -r "$ENV_FILE" ] || die "$EX_USAGE" "cannot read the env file $ENV_FILE"
	_le_bad=$(awk "$AWK_CHECK" "$ENV_FILE") || die "$EX_USAGE" "$ENV_FILE: $_le_bad"
	BINDIR=$(conf_get bindir "$(newest_bindir)")
	[ -x "$BINDIR/psql" ] || die "$EX_USAGE" "no psql in bindir '$BINDIR' (set bindir in $ENV_FILE)"
	DB_USER=$(conf_get user postgres)
	REPL_USER=$(conf_get repl_user "$DB_USER")
	PASSFILE=$(conf_get passfile "")
	SSLMODE=$(conf_get sslmode "")
	TIMEOUT=$(conf_get timeout 20)
	CONNECT_TIMEOUT=$(conf_get connect_timeout 3)
	PEER_TIMEOUT=$(conf_get peer_timeout 1)
	SYNC_NAMES=$(conf_get sync_standby_names "")
	SSH_CMD=$(conf_get ssh_command ssh)
	STOP_MODE=$(conf_get stop_mode immediate)
	UNREACHABLE=$(conf_get unreachable accept)
	# Only our settings reach libpq: an inherited PGHOST or PGSERVICE must
	# not send a hook to another server.
	unset PGHOST PGHOSTADDR PGPORT PGSERVICE PGSERVICEFILE PGOPTIONS PGDATA \
		PGTARGETSESSIONATTRS PGREQUIRESSL PGSSLMODE PGPASSFILE PGPASSWORD
	PGUSER=$DB_USER
	PGDATABASE=$(conf_get dbname postgres)
	PGCONNECT_TIMEOUT=$CONNECT_TIMEOUT
	PGAPPNAME=vigil-$PROG
	export PGUSER PGDATABASE PGCONNECT_TIMEOUT PGAPPNAME
	if [ -n "$PASSFILE" ]; then PGPASSFILE=$PASSFILE; export PGPASSFILE; fi
	if [ -n "$SSLMODE" ]; then PGSSLMODE=$SSLMODE; export PGSSLMODE; fi
}

# check_node NAME [pgdata]: NAME is a node of the env file, with a host
# (and a data directory).  Checked up front, so that later lookups, which
# run inside $(...), cannot fail half-way.
check_node() {
	case $1 in
	'' | *[!A-Za-z0-9_.-]*) die "$EX_USAGE" "bad node name '$1'" ;;
	esac
	[ -n "$(conf_get "$1.host" "")" ] || die "$EX_USAGE" "node $1: no $1.host in $ENV_FILE"
	[ "${2:-}" != pgdata ] || [ -n "$(conf_get "$1.pgdata" "")" ] ||
		die "$EX_USAGE" "node $1: no $1.pgdata in $ENV_FILE"
}

node_host() { conf_get "$1.host" ""; }
node_port() { conf_get "$1.port" 5432; }
node_user() { conf_get "$1.os_user" postgres; }

node_pgdata() { conf_get "$1.pgdata" ""; }

# check_epoch E: E is a fencing token (vigil's epoch), digits only.
check_epoch() {
	case $1 in
	'' | *[!0-9]*) die "$EX_USAGE" "bad epoch '$1': expected digits (vigil's {epoch})" ;;
	esac
	[ "${#1}" -le 18 ] || die "$EX_USAGE" "epoch '$1' is too long"
}

# ---- quoting --------------------------------------------------------------

# One word for a POSIX shell (the ssh command line).
sh_quote() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

sh_join() {
	_sj=
	for _sj_a; do
		_sj="$_sj $(sh_quote "$_sj_a")"
	done
	printf '%s' "${_sj# }"
}

# A string literal for SQL (standard_conforming_strings on).
sql_quote() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"
}

# A string value in postgresql.auto.conf, where a backslash escapes too.
guc_quote() {
	printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"
}

# A libpq conninfo value.
ci_quote() {
	printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"
}

# conninfo_to PRIMARY USER APPNAME [DBNAME]: how to reach PRIMARY's server.
conninfo_to() {
	_ci="host=$(ci_quote "$(node_host "$1")") port=$(ci_quote "$(node_port "$1")")"
	_ci="$_ci user=$(ci_quote "$2") application_name=$(ci_quote "$3")"
	[ -z "${4:-}" ] || _ci="$_ci dbname=$(ci_quote "$4")"
	[ -z "$PASSFILE" ] || _ci="$_ci passfile=$(ci_quote "$PASSFILE")"
	[ -z "$SSLMODE" ] || _ci="$_ci sslmode=$(ci_quote "$SSLMODE")"
	printf '%s\n' "$_ci"
}

# ---- running things -------------------------------------------------------

# sql_on HOST PORT SQL...: each SQL as its own -c (so ALTER SYSTEM, which
# refuses a transaction block, works); rows on stdout, fields split by a space.
sql_on() {
	_so_h=$1
	_so_p=$2
	shift 2
	_so_first=1
	for _so_q; do
		if [ "$_so_first" = 1 ]; then
			set --
			_so_first=0
		fi
		set -- "$@" -c "$_so_q"
	done
	PGHOST=$_so_h PGPORT=$_so_p "$BINDIR/psql" -X -A -t -q -F ' ' -v ON_ERROR_STOP=1 "$@"
}

# node_sql NODE SQL...
node_sql() {
	_ns_n=$1
	shift
	sql_on "$(node_host "$_ns_n")" "$(node_port "$_ns_n")" "$@"
}

# node_run NODE ARGV...: run ARGV on NODE's machine as its OS user.  With
# NODE.ssh, ssh's own failure is exit 255 (the host is out of reach).
node_run() {
	_nr_n=$1
	shift
	_nr_ssh=$(conf_get "$_nr_n.ssh" "")
	if [ -n "$_nr_ssh" ]; then
		"$SSH_CMD" -o BatchMode=yes -o ConnectTimeout="$CONNECT_TIMEOUT" -- \
			"$_nr_ssh" "$(sh_join "$@")"
		return
	fi
	_nr_u=$(node_user "$_nr_n")
	if [ "$(id -un)" = "$_nr_u" ]; then
		"$@"
	else
		# That user may not be allowed into our working directory.
		(cd / && exec runuser -u "$_nr_u" -- "$@")
	fi
}

# node_state NODE: "primary", "standby", or "down" (no SQL answer).
node_state() {
	if _nst=$(node_sql "$1" "select pg_is_in_recovery()" 2>/dev/null); then
		case $_nst in
		t) echo standby ;;
		f) echo primary ;;
		*) echo down ;;
		esac
	else
		echo down
	fi
}

# pg_status NODE: 0 its postmaster runs, 3 it does not, 4 no readable data
# dir, 255 ssh could not reach the host (pg_ctl status's codes).  Unlike
# pg_ctl status, a killed postmaster that nobody reaped yet (a zombie) or a
# pid that another program now has counts as not running.
pg_status() {
	if node_run "$1" sh -c '[ -r "$1/PG_VERSION" ] || exit 4
		pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) || exit 3
		case $pid in "" | *[!0-9]*) exit 3 ;; esac
		st=$(ps -o stat= -o comm= -p "$pid") || exit 3
		case $st in Z*) exit 3 ;; *" postgres") exit 0 ;; *) exit 3 ;; esac' \
		sh "$(node_pgdata "$1")" 2>/dev/null; then
		echo 0
	else
		echo $?
	fi
}

# pg_start NODE: start its postmaster (as a standby when standby.signal is
# there); pg_ctl -o goes through a shell, hence the quoting.
pg_start() {
	_ps_d=$(node_pgdata "$1")
	_ps_o="-p $(node_port "$1")"
	_ps_cf=$(conf_get "$1.config_file" "")
	[ -z "$_ps_cf" ] || _ps_o="$_ps_o -c config_file=$(sh_quote "$_ps_cf")"
	node_run "$1" "$BINDIR/pg_ctl" start -D "$_ps_d" -w -t "$TIMEOUT" \
		-l "$(conf_get "$1.log_file" "$_ps_d/vigil-postgres.log")" -o "$_ps_o"
}

# ---- marks on the node ----------------------------------------------------

# epoch_read NODE: the highest epoch a hook recorded in PGDATA/vigil.epoch, 0 if none.
epoch_read() {
	_er=$(node_run "$1" sh -c 'if [ -e "$1" ]; then cat -- "$1"; else echo 0; fi' sh \
		"$(node_pgdata "$1")/vigil.epoch") || return 1
	case $_er in
	'' | *[!0-9]*) die "$EX_FAIL" "node $1: vigil.epoch holds '$_er', not a number" ;;
	esac
	printf '%s\n' "$_er"
}

# epoch_write NODE EPOCH: durably, replacing the file in one rename.
epoch_write() {
	node_run "$1" sh -c 'set -e; printf "%s\n" "$2" >"$1.tmp"; sync "$1.tmp"; mv -f "$1.tmp" "$1"' \
		sh "$(node_pgdata "$1")/vigil.epoch" "$2"
}

# standby_conf NODE PRIMARY: NODE (stopped) starts as PRIMARY's standby.
# The appended line wins over earlier ones, as ALTER SYSTEM and pg_basebackup -R read it.
standby_conf() {
	_sc_line="primary_conninfo = $(guc_quote "$(conninfo_to "$2" "$REPL_USER" "$1")")"
	node_run "$1" sh -c 'set -e; printf "%s\n" "$2" >>"$1/postgresql.auto.conf"
		: >"$1/standby.signal"; rm -f "$1/vigil.fenced"' sh "$(node_pgdata "$1")" "$_sc_line"
}

# ---- replication ----------------------------------------------------------

# The timeline a primary writes now (from its current WAL file's name).
SQL_TLI="select ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int"

# streaming PRIMARY STANDBY: STANDBY streams from PRIMARY now, on PRIMARY's
# timeline.  Both sides are asked: a standby that cannot follow the new
# timeline reconnects in a loop and shows as streaming for a moment each time.
streaming() {
	_st=$(node_sql "$1" "select count(*) from pg_stat_replication
		where application_name = $(sql_quote "$2") and state = 'streaming'" 2>/dev/null) &&
		[ "$_st" != 0 ] || return 1
	_st_tli=$(node_sql "$1" "$SQL_TLI" 2>/dev/null) || return 1
	_st=$(node_sql "$2" "select count(*) from pg_stat_wal_receiver
		where status = 'streaming' and received_tli = $_st_tli" 2>/dev/null) &&
		[ "$_st" != 0 ]
}

# wait_streaming PRIMARY STANDBY: up to TIMEOUT seconds.
wait_streaming() {
	_ws=$((TIMEOUT * 5))
	while ! streaming "$1" "$2"; do
		_ws=$((_ws - 1))
		[ "$_ws" -gt 0 ] || return 1
		sleep 0.2
	done
}

# sync_apply PRIMARY: with sync_standby_names set, make PRIMARY wait for a
# synchronous standby only while one streams, so a primary left alone after a
# failover keeps taking writes (asynchronously) instead of hanging them.
sync_apply() {
	[ -n "$SYNC_NAMES" ] || return 0
	_sa_n=$(node_sql "$1" "select count(*) from pg_stat_replication where state = 'streaming'") ||
		return 1
	_sa_want=
	[ "$_sa_n" = 0 ] || _sa_want=$SYNC_NAMES
	_sa_cur=$(node_sql "$1" "show synchronous_standby_names") || return 1
	[ "$_sa_cur" != "$_sa_want" ] || return 0
	node_sql "$1" "alter system set synchronous_standby_names = $(sql_quote "$_sa_want")" \
		"select pg_reload_conf()" >/dev/null || return 1
	info "$1: synchronous_standby_names = '$_sa_want' ($_sa_n standby streaming)"
}
