/*
 * actions/backup/backup.h — vigil's backup repository: deduplicated,
 * compressed, optionally encrypted snapshots of directory trees, stored in
 * the format docs/repository-format.md defines.
 *
 *   bk_repo_init      create a repository (chunk sizes, pack size, key)
 *   bk_repo_open      open one (checks the key), bk_repo_close
 *   bk_backup_dir     one snapshot of a directory: incremental against the
 *                     last snapshot of the same job and source, or full
 *   bk_snapshots_list what is there, oldest first
 *   bk_restore        a snapshot (default latest) into a directory
 *   bk_verify         structure, and with read_data every chunk re-hashed
 *
 * Everything here is synchronous and does disk I/O that can take minutes:
 * call it from a child process or the CLI, never from the daemon's event
 * loop.  A repository handle is not thread-safe.  Errors come back as
 * "what failed: why" in err.
 *
 * Writers take the repository lock (bk_backup_dir does it itself); readers
 * (restore, verify, list) do not need it.
 */
#ifndef VIGIL_ACTIONS_BACKUP_BACKUP_H
#define VIGIL_ACTIONS_BACKUP_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_ID_HEX 65 /* 64 hex digits + NUL */

/* Defaults (docs/repository-format.md says why these sizes). */
#define BK_DEFAULT_CHUNK_MIN (4u << 10)
#define BK_DEFAULT_CHUNK_AVG (16u << 10)
#define BK_DEFAULT_CHUNK_MAX (64u << 10)
#define BK_DEFAULT_PACK_SIZE (16u << 20)
#define BK_DEFAULT_ZSTD_LEVEL 3
#define BK_DEFAULT_LOCK_STALE_S (60u * 60u)

struct bk_repo;

struct bk_repo_params {
	uint32_t chunk_min, chunk_avg, chunk_max; /* avg a power of two */
	uint32_t pack_size;                       /* target pack size, 64 KiB..1 GiB */
	int zstd_level;                           /* 1..19 */
	const char *key_file; /* NULL: unencrypted (never for an offsite repository) */
};

void bk_repo_params_default(struct bk_repo_params *p);
/* A new random key file (64 hex digits, mode 0600); refuses to overwrite. */
int bk_key_generate(const char *path, char *err, size_t errlen);
/* Create a repository in path (made if missing; must not hold one already). */
int bk_repo_init(const char *path, const struct bk_repo_params *p, char *err, size_t errlen);
/*
 * Open a repository.  key_file must be given exactly when the repository
 * is encrypted; a wrong key is refused ("wrong key: key file K has key id
 * X, the repository's key id is Y").  NULL with err.
 */
struct bk_repo *bk_repo_open(const char *path, const char *key_file, char *err, size_t errlen);
void bk_repo_close(struct bk_repo *r);
bool bk_repo_encrypted(const struct bk_repo *r);
/* A lock untouched for this long is stale (a live writer refreshes it every few minutes). */
void bk_repo_set_lock_stale(struct bk_repo *r, unsigned seconds);
/*
 * The writer lock, for callers that write other than through
 * bk_backup_dir (prune, later).  Taking it also cleans what a dead writer
 * left and indexes any pack it wrote but did not index.
 */
int bk_repo_lock(struct bk_repo *r, char *err, size_t errlen);
void bk_repo_unlock(struct bk_repo *r);

struct bk_backup_opts {
	const char *source; /* a directory; symlinks in it are stored, never followed */
	const char *job;    /* a name grouping snapshots of one source; NULL: "default" */
	const char *parent; /* snapshot id or prefix; NULL: latest of the same job and source */
	bool full;          /* reread every file instead of trusting size/mtime/inode */
};

struct bk_backup_stats {
	uint64_t files, dirs, symlinks, skipped; /* skipped: sockets, devices, vanished */
	uint64_t files_read;                     /* opened and chunked */
	uint64_t files_unchanged;                /* reused from the parent unread */
	uint64_t bytes_total;                    /* sum of file sizes */
	uint64_t bytes_read;                     /* bytes actually read from files */
	uint64_t chunks_total, chunks_new;
	uint64_t bytes_new;                      /* plaintext of new chunks */
	uint64_t bytes_stored;                   /* new pack, index and snapshot bytes */
	uint64_t packs_written;
	uint64_t packs_recovered;                /* left unindexed by a dead run, reused */
};

/* One snapshot; its id into id (may be NULL).  Takes and releases the lock. */
int bk_backup_dir(struct bk_repo *r, const struct bk_backup_opts *o, struct bk_backup_stats *st,
		  char id[BK_ID_HEX], char *err, size_t errlen);

struct bk_snapshot_info {
	char id[BK_ID_HEX];
	char parent[BK_ID_HEX]; /* "" when none */
	int64_t time_ns;        /* wall clock when the backup started */
	char *host, *job, *source;
	bool full;
	uint64_t files, bytes;
};

/* Every snapshot, oldest first; a damaged manifest is an error naming it. */
int bk_snapshots_list(struct bk_repo *r, struct bk_snapshot_info **list, size_t *n, char *err,
		      size_t errlen);
void bk_snapshots_free(struct bk_snapshot_info *list, size_t n);

/* Called with each problem found ("snapshot S: file P: chunk C: why"). */
typedef void (*bk_problem_fn)(void *arg, const char *msg);

struct bk_restore_opts {
	const char *snapshot; /* id, unique prefix, or NULL/"latest" */
	const char *job;      /* with latest: the latest of this job */
	const char *target;   /* made if missing; existing files in the way are replaced */
	bk_problem_fn problem;
	void *arg;
};

struct bk_restore_stats {
	uint64_t files, dirs, symlinks, bytes, damaged_files;
};

/*
 * Restore a snapshot.  Every chunk is re-hashed; a file with a damaged or
 * missing chunk is never left behind (it is written under a temporary
 * name and renamed only when whole).  The other files are still restored;
 * the call then fails naming the snapshot and the first damaged file.
 */
int bk_restore(struct bk_repo *r, const struct bk_restore_opts *o, struct bk_restore_stats *st,
	       char *err, size_t errlen);

struct bk_verify_opts {
	bool read_data; /* decrypt, decompress and re-hash every chunk */
	bk_problem_fn problem;
	void *arg;
};

struct bk_verify_stats {
	uint64_t packs, chunks, snapshots, chunks_read;
	uint64_t problems, damaged_chunks, damaged_files;
	uint64_t unindexed_packs; /* left by a dead run; not a problem (the next backup reuses them) */
};

/* 0 when the repository is sound, 1 when problems were reported, -1 when it could not be checked. */
int bk_verify(struct bk_repo *r, const struct bk_verify_opts *o, struct bk_verify_stats *st,
	      char *err, size_t errlen);

#endif
