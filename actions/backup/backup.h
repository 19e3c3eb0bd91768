/*
 * actions/backup/backup.h — vigil's backup repository: deduplicated,
 * compressed, optionally encrypted snapshots of directory trees, stored in
 * the format docs/repository-format.md defines.
 *
 *   bk_repo_init      create a repository (chunk sizes, pack size, key)
 *   bk_repo_open      open one (checks the key), bk_repo_close
 *   bk_backup_dir     one snapshot of a directory: incremental against the
 *                     last snapshot of the same job and source, or full
 *   bk_backup_stream  one snapshot of a stream (a command's output)
 *   bk_snapshots_list what is there, oldest first
 *   bk_restore        a snapshot (default latest) into a directory
 *   bk_restore_stream one file of a snapshot to a file descriptor
 *   bk_verify         structure, and with read_data every chunk re-hashed
 *   bk_keep_select    which snapshots a retention policy keeps (pure)
 *   bk_forget         remove the manifests of the snapshots a policy drops
 *   bk_prune          delete or repack the data no snapshot references
 *
 * Everything here is synchronous and does disk I/O that can take minutes:
 * call it from a child process or the CLI, never from the daemon's event
 * loop.  A repository handle is not thread-safe.  Errors come back as
 * "what failed: why" in err.
 *
 * Writers take the repository lock (bk_backup_dir, bk_forget and bk_prune
 * do it themselves); readers (restore, verify, list) do not take it, so a
 * restore running while a prune deletes packs can fail (never with a
 * wrong file) and must be retried.
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
#define BK_DEFAULT_SEGMENT_SIZE (512u << 10)
#define BK_DEFAULT_ZSTD_LEVEL 3
#define BK_DEFAULT_LOCK_STALE_S (60u * 60u)

struct bk_repo;

struct bk_repo_params {
	uint32_t chunk_min, chunk_avg, chunk_max; /* avg a power of two */
	uint32_t pack_size;                       /* target pack size, 64 KiB..1 GiB */
	uint32_t segment_size; /* chunks compressed together, 16 KiB..16 MiB, under pack_size */
	unsigned format;       /* 2; 1 (one chunk per blob) only to test old repositories */
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
/* The repository's format version (1 or 2; see docs/repository-format.md). */
unsigned bk_repo_format(const struct bk_repo *r);
/* A lock untouched for this long is stale (a live writer refreshes it every few minutes). */
void bk_repo_set_lock_stale(struct bk_repo *r, unsigned seconds);
/*
 * The writer lock, for callers that write other than through
 * bk_backup_dir (prune, later).  Taking it also cleans what a dead writer
 * left and indexes any pack it wrote but did not index.
 */
int bk_repo_lock(struct bk_repo *r, char *err, size_t errlen);
void bk_repo_unlock(struct bk_repo *r);
/*
 * Raise a repository of format version 1 to version 2 (new chunks go into
 * segments of segment_size): its config is rewritten, under the lock; what
 * it holds stays as it is and readable.  A vigil older than format version
 * 2 can no longer open it.  0 done, 1 already version 2, -1 with err.
 */
int bk_repo_upgrade(struct bk_repo *r, uint32_t segment_size, char *err, size_t errlen);

/*
 * Progress of a backup, a restore or a verify, reported at every step
 * (a read, a file, a chunk, a pack) and once at the end (done): the
 * receiver decides how often to show it.  bytes_total is 0 when not
 * known up front (a backup); path is the entry at hand, or NULL.
 */
struct bk_progress {
	uint64_t files, bytes, bytes_total, bytes_new;
	const char *path;
	bool done;
};
typedef void (*bk_progress_fn)(void *arg, const struct bk_progress *p);

struct bk_backup_opts {
	const char *source; /* a directory; symlinks in it are stored, never followed */
	const char *job;    /* a name grouping snapshots of one source; NULL: "default" */
	const char *parent; /* snapshot id or prefix; NULL: latest of the same job and source */
	bool full;          /* reread every file instead of trusting size/mtime/inode */
	bk_progress_fn progress; /* may be NULL */
	void *progress_arg;
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

/*
 * A stream (a command's standard output, stdin) as a snapshot of its own:
 * the tree holds the root "." and one file, NAME, with the stream's bytes
 * (docs/repository-format.md, "Streams").  Every run reads the whole
 * stream; only chunks the repository lacks are stored.
 */
struct bk_stream_opts {
	int fd;              /* read to its end */
	const char *name;    /* the file's name in the snapshot; NULL: "stdin" */
	const char *job;     /* NULL: "default" */
	/*
	 * Called at the end of the stream, before the manifest is written:
	 * non-zero (with err) refuses the snapshot, e.g. because the command
	 * that wrote the stream failed and its output may be cut short.
	 */
	int (*finish)(void *arg, char *err, size_t errlen);
	void *arg;
	bk_progress_fn progress; /* may be NULL */
	void *progress_arg;
};

/* The source a stream snapshot records: "stream:NAME". */
#define BK_STREAM_SOURCE_PREFIX "stream:"

int bk_backup_stream(struct bk_repo *r, const struct bk_stream_opts *o,
		     struct bk_backup_stats *st, char id[BK_ID_HEX], char *err, size_t errlen);

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
	/* Then remove from target what the snapshot does not hold (sweep.h);
	 * only after a restore with every file whole. */
	bool delete_extra;
	bk_problem_fn problem;
	void *arg;
	bk_progress_fn progress; /* may be NULL */
	void *progress_arg;
};

struct bk_restore_stats {
	uint64_t files, dirs, symlinks, bytes, damaged_files;
	uint64_t removed; /* with delete_extra */
};

/*
 * Restore a snapshot.  Every chunk is re-hashed; a file with a damaged or
 * missing chunk is never left behind (it is written under a temporary
 * name and renamed only when whole).  The other files are still restored;
 * the call then fails naming the snapshot and the first damaged file.
 */
int bk_restore(struct bk_repo *r, const struct bk_restore_opts *o, struct bk_restore_stats *st,
	       char *err, size_t errlen);

struct bk_restore_stream_opts {
	const char *snapshot; /* id, unique prefix, or NULL/"latest" */
	const char *job;      /* with latest: the latest of this job */
	const char *file;     /* the file's path in the snapshot; NULL: its only file */
	int fd;               /* where the bytes go */
	bk_progress_fn progress; /* may be NULL */
	void *progress_arg;
};

/*
 * Write one file of a snapshot (a stream snapshot's stream, by default) to
 * fd, each chunk verified before it is written.  A damaged chunk stops
 * the copy with an error naming the snapshot and file: the reader has then
 * had only part of the data, and the caller must make sure it does not
 * take that for the whole (kill the command it feeds).  Its size into *bytes.
 */
int bk_restore_stream(struct bk_repo *r, const struct bk_restore_stream_opts *o,
		      uint64_t *bytes, char *err, size_t errlen);

struct bk_verify_opts {
	bool read_data; /* decrypt, decompress and re-hash every chunk */
	bk_problem_fn problem;
	void *arg;
	bk_progress_fn progress; /* with read_data: the packs' bytes read; may be NULL */
	void *progress_arg;
};

struct bk_verify_stats {
	uint64_t packs, chunks, snapshots, chunks_read;
	uint64_t problems, damaged_chunks, damaged_files;
	uint64_t unindexed_packs; /* left by a dead run; not a problem (the next backup reuses them) */
};

/* 0 when the repository is sound, 1 when problems were reported, -1 when it could not be checked. */
int bk_verify(struct bk_repo *r, const struct bk_verify_opts *o, struct bk_verify_stats *st,
	      char *err, size_t errlen);

/* ---- retention (forget.c) ---- */

/*
 * A retention policy, restic/borg style, applied to each group of
 * snapshots (same job and source) on its own, in UTC.  keep_last keeps
 * the N newest.  keep_hourly/daily/weekly/monthly keep, for each of the N
 * most recent hours/days/ISO weeks (Monday to Sunday)/months that have a
 * snapshot, the newest snapshot in it; a gap in the backups does not use
 * up the allowance.  A snapshot kept by any rule is kept.  Every rule with
 * N >= 1 keeps the newest snapshot, so a non-empty policy never empties a
 * group; an all-zero policy keeps everything.
 */
struct bk_keep_policy {
	unsigned keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly;
};

/* Why a snapshot is kept: an OR of these; 0 means it is forgotten. */
#define BK_KEEP_LAST 0x01u
#define BK_KEEP_HOURLY 0x02u
#define BK_KEEP_DAILY 0x04u
#define BK_KEEP_WEEKLY 0x08u
#define BK_KEEP_MONTHLY 0x10u
#define BK_KEEP_ALL 0x20u /* the policy is empty */

bool bk_keep_policy_empty(const struct bk_keep_policy *p);
/*
 * The rules keeping each of n snapshots of one group, given their times
 * (ns since the epoch, in any order; equal times: the later index is the
 * newer), into why[i].  -1 only when out of memory.
 */
int bk_keep_select(const int64_t *time_ns, size_t n, const struct bk_keep_policy *p,
		   unsigned *why);

/* Called once per snapshot considered, grouped by job and source, oldest first. */
typedef void (*bk_forget_fn)(void *arg, const struct bk_snapshot_info *s, unsigned why);

struct bk_forget_stats {
	uint64_t groups, kept, removed; /* removed: would be, with dry_run */
};

/*
 * Apply p to the snapshots of job (NULL: of every job) and remove the
 * manifests of those it does not keep, holding the lock; with dry_run,
 * only report (no lock, no change).  The data stays until bk_prune.
 */
int bk_forget(struct bk_repo *r, const char *job, const struct bk_keep_policy *p, bool dry_run,
	      bk_forget_fn fn, void *arg, struct bk_forget_stats *st, char *err, size_t errlen);

/* ---- prune (prune.c, repack.c) ---- */

#define BK_DEFAULT_REPACK_THRESHOLD 80 /* percent */

/* Steps of a prune, each durable when reported (name: the object concerned). */
enum bk_prune_step {
	BK_PRUNE_PLANNED,       /* the plan is made; nothing written yet (name "") */
	BK_PRUNE_REPACKED,      /* the used chunks of this pack went to new packs */
	BK_PRUNE_PACKS_WRITTEN, /* the new packs are durable and indexed (name "") */
	BK_PRUNE_INDEX_WRITTEN, /* a new index file covering the kept packs */
	BK_PRUNE_INDEX_REMOVED, /* a superseded index file */
	BK_PRUNE_PACK_REMOVED,  /* an unused or repacked pack */
};

typedef void (*bk_prune_fn)(void *arg, enum bk_prune_step step, const char *name);

struct bk_prune_opts {
	/*
	 * A pack whose used blobs make up less than this percentage of its
	 * blob bytes is repacked (its used chunks copied into new packs, the
	 * old pack deleted); 0 never repacks, 100 repacks every pack with any
	 * unused blob.  Packs nothing uses are always deleted.
	 */
	unsigned repack_threshold;
	bool dry_run;         /* plan and report only (the lock is still taken) */
	bk_prune_fn progress; /* may be NULL */
	void *arg;
};

struct bk_prune_stats {
	uint64_t snapshots, chunks_used;
	uint64_t packs, packs_kept, packs_unused, packs_repacked; /* repacked: planned, with dry_run */
	uint64_t chunks_repacked, packs_written;
	uint64_t index_written, index_removed;
	uint64_t bytes_before;  /* all indexed packs */
	uint64_t bytes_freed;   /* packs deleted (to be, with dry_run) */
	uint64_t bytes_written; /* new packs and index files */
	uint64_t bytes_unused_kept; /* unused blobs left in packs above the threshold */
};

void bk_prune_opts_default(struct bk_prune_opts *o);
/*
 * Holding the lock, delete every pack no snapshot uses and repack the
 * ones below the threshold, in an order that a crash at any point leaves
 * a repository that verifies and restores every snapshot
 * (docs/repository-format.md, "Prune").  Refuses, changing nothing, when
 * a manifest or tree cannot be read or a chunk a snapshot needs is not
 * indexed.  o NULL: defaults.
 */
int bk_prune(struct bk_repo *r, const struct bk_prune_opts *o, struct bk_prune_stats *st,
	     char *err, size_t errlen);

#endif
