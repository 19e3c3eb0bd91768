/*
 * actions/backup/store.h — where a repository's objects live.
 *
 * A repository is a set of named objects ("config", "lock",
 * "data/ab/<id>", "index/<id>", "snapshots/<id>"); everything above this
 * layer speaks only in those names, so an S3 backend is one more
 * bk_store_ops table.  The rules every backend keeps:
 *
 *   put      replaces NAME atomically and durably: a reader (or a crash)
 *            sees the old object or the whole new one, never a torn one;
 *   put_new  the same, but fails (returns 1) when NAME already exists, in
 *            one step (the lock depends on it);
 *   put_lazy stores NAME so that it appears, whole and durable, at the next
 *            sync (or never, if the process dies first); lets a local disk
 *            write packs back while the next ones are being built;
 *   get / read_at / size return 1 when the object does not exist;
 *   list     yields full names under a directory, in no promised order;
 *   clean    removes what an interrupted put left behind.  Call it only
 *            while holding the repository lock.
 *
 * Synchronous; never call it from the daemon's event loop.
 */
#ifndef VIGIL_ACTIONS_BACKUP_STORE_H
#define VIGIL_ACTIONS_BACKUP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bk_store;

/* Return non-zero to stop the listing (list then returns that value). */
typedef int (*bk_list_fn)(void *arg, const char *name);

struct bk_store_ops {
	int (*put)(struct bk_store *s, const char *name, const void *data, size_t len,
		   char *err, size_t errlen);
	int (*put_new)(struct bk_store *s, const char *name, const void *data, size_t len,
		       char *err, size_t errlen);
	int (*put_lazy)(struct bk_store *s, const char *name, const void *data, size_t len,
			char *err, size_t errlen);
	/* Make every put_lazy object durable and visible under its name. */
	int (*sync)(struct bk_store *s, char *err, size_t errlen);
	/* Forget every put_lazy object not yet synced. */
	void (*discard)(struct bk_store *s);
	/* The whole object, malloc'd, at most max bytes. */
	int (*get)(struct bk_store *s, const char *name, size_t max, uint8_t **data,
		   size_t *len, char *err, size_t errlen);
	/* Exactly len bytes at off; a short object is an error. */
	int (*read_at)(struct bk_store *s, const char *name, uint64_t off, void *buf,
		       size_t len, char *err, size_t errlen);
	int (*size)(struct bk_store *s, const char *name, uint64_t *size, char *err,
		    size_t errlen);
	int (*list)(struct bk_store *s, const char *dir, bk_list_fn fn, void *arg, char *err,
		    size_t errlen);
	/* A missing object is success. */
	int (*remove)(struct bk_store *s, const char *name, char *err, size_t errlen);
	int (*clean)(struct bk_store *s, char *err, size_t errlen);
	void (*free)(struct bk_store *s);
};

struct bk_store {
	const struct bk_store_ops *ops;
	const char *where; /* for messages: the path or URL */
};

/*
 * A repository in a local directory.  With create, makes the directory
 * and its layout (data/00..ff, index, snapshots, tmp) and refuses a
 * directory that already holds a config; without it, the directory must
 * exist.  NULL with err.
 */
struct bk_store *bk_store_local_new(const char *path, bool create, char *err, size_t errlen);
void bk_store_free(struct bk_store *s);

/* Whether path names offsite storage (s3://...), which must hold only encrypted repositories. */
bool bk_store_is_offsite(const char *path);

/* "data/ab/abcdef..." for a pack id in hex. */
void bk_pack_name(const char *hex, char *out, size_t len);

#endif
