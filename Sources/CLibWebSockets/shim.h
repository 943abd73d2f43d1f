#ifndef COPYBOT_CLIBWEBSOCKETS_SHIM_H
#define COPYBOT_CLIBWEBSOCKETS_SHIM_H

#include <libwebsockets.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

/* Macros and helpers that do not import into Swift. */

/** Bytes of headroom lws_write() needs before the payload (the LWS_PRE macro). */
static inline size_t copybot_lws_pre(void) { return LWS_PRE; }

/**
 * A scheduler entry (lws_sorted_usec_list_t) that knows its owner, so a sul callback
 * can find the Swift object without lws_container_of (a macro Swift cannot see).
 */
typedef struct copybot_lws_sul {
    lws_sorted_usec_list_t sul; /* must stay first */
    void *owner;
} copybot_lws_sul_t;

static inline void *copybot_lws_sul_owner(lws_sorted_usec_list_t *sul) {
    return lws_container_of(sul, copybot_lws_sul_t, sul)->owner;
}

/**
 * Names the calling thread, e.g. the lws service threads (shown in /proc/self/task/<tid>/comm;
 * at most 15 bytes kept). prctl is variadic, so Swift cannot call it directly.
 */
static inline void copybot_set_thread_name(const char *name) {
#if defined(__linux__)
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
#else
    (void)name;
#endif
}

#endif
