/*
 * The `multimedia` module: CanMV K230's RTSP server API on top of the
 * canmv_rtsp Rust staticlib (include/canmv_rtsp.h).
 *
 * This file only converts arguments and results and manages the server
 * object's lifetime, the GIL and (on the K230) the mapping of physical
 * addresses; every rule about the values (names, options, users, codecs) is
 * the library's, and each Python call is one library call. Wrong types raise
 * TypeError, values that do not fit their C type or that the library refuses
 * as arguments ValueError, state errors of None-returning calls OSError;
 * int-returning calls pass the library's negative errno through. The
 * contract is API.md (see the README).
 *
 * Builds against MicroPython v1.20 and newer.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "py/runtime.h"
#include "py/objint.h"
#include "py/mperrno.h"
#include "py/mpthread.h"

#include "canmv_rtsp.h"

// Calls into Rust may take a while (joining the server thread) or be made from
// several Python threads at once: let other threads run meanwhile.
#if MICROPY_PY_THREAD && MICROPY_PY_THREAD_GIL
#define MM_RELEASE_GIL() MP_THREAD_GIL_EXIT()
#define MM_ACQUIRE_GIL() MP_THREAD_GIL_ENTER()
#else
#define MM_RELEASE_GIL()
#define MM_ACQUIRE_GIL()
#endif

// MicroPython renamed NORETURN to MP_NORETURN after v1.25.
#ifndef MP_NORETURN
#define MP_NORETURN NORETURN
#endif

// A session name is at most 255 bytes, so this always holds the URL.
#define MM_URL_CAP (320)

/******************************************************************************/
// The server object.

typedef struct _mm_rtsp_server_obj_t {
    mp_obj_base_t base;
    // Made on first use (or by rtspserver_create), so that constructing an
    // object costs nothing; freed by rtspserver_destroy or the finaliser.
    canmv_rtsp_server *server;
    // Calls into the library in progress with the GIL released; while non-zero,
    // a destroy only marks the object and the last call out frees the server.
    uint16_t busy;
    bool destroyed;
} mm_rtsp_server_obj_t;

extern const mp_obj_type_t mm_rtsp_server_type;

static mm_rtsp_server_obj_t *mm_server_alloc(void) {
    mm_rtsp_server_obj_t *self;
    #ifdef mp_obj_malloc_with_finaliser
    self = mp_obj_malloc_with_finaliser(mm_rtsp_server_obj_t, &mm_rtsp_server_type);
    #else
    self = m_new_obj_with_finaliser(mm_rtsp_server_obj_t);
    self->base.type = &mm_rtsp_server_type;
    #endif
    self->server = NULL;
    self->busy = 0;
    self->destroyed = false;
    return self;
}

static void mm_server_free_now(canmv_rtsp_server *server) {
    MM_RELEASE_GIL();
    canmv_rtsp_server_free(server);
    MM_ACQUIRE_GIL();
}

// The server for one call, counted as busy until mm_server_leave; NULL with
// *err set when the object was destroyed (or is the missing default server).
static canmv_rtsp_server *mm_server_enter(mm_rtsp_server_obj_t *self, int *err) {
    if (self == NULL || self->destroyed) {
        *err = MP_ENODEV;
        return NULL;
    }
    if (self->server == NULL) {
        self->server = canmv_rtsp_server_new();
        if (self->server == NULL) {
            *err = MP_ENOMEM;
            return NULL;
        }
    }
    self->busy++;
    return self->server;
}

static void mm_server_leave(mm_rtsp_server_obj_t *self) {
    self->busy--;
    if (self->busy == 0 && self->destroyed && self->server != NULL) {
        canmv_rtsp_server *server = self->server;
        self->server = NULL;
        mm_server_free_now(server);
    }
}

// Frees the server (now, or when the calls in progress return). 0, or
// -ENODEV when already destroyed.
static int32_t mm_server_destroy(mm_rtsp_server_obj_t *self) {
    if (self->destroyed) {
        return -MP_ENODEV;
    }
    self->destroyed = true;
    if (self->busy == 0 && self->server != NULL) {
        canmv_rtsp_server *server = self->server;
        self->server = NULL;
        mm_server_free_now(server);
    }
    return 0;
}

/******************************************************************************/
// Argument conversion. All of it happens before the GIL is released.

MP_NORETURN static void mm_raise_type(const char *message) {
    mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("%s"), message);
}

static const char *mm_get_name(mp_obj_t name_in, size_t *len) {
    if (!mp_obj_is_str(name_in)) {
        mm_raise_type("name must be a str");
    }
    return mp_obj_str_get_data(name_in, len);
}

// An optional name: omitted or None gives NULL.
static const char *mm_get_optional_name(size_t n_args, const mp_obj_t *args, size_t *len) {
    *len = 0;
    if (n_args == 0 || args[0] == mp_const_none) {
        return NULL;
    }
    return mm_get_name(args[0], len);
}

static void mm_require_int(mp_obj_t o, const char *what) {
    // bool is not accepted: a flag passed where a number belongs is a mistake.
    if (!mp_obj_is_int(o)) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("%s must be an int"), what);
    }
}

// An int in lo..hi; anything else of type int is a ValueError.
static mp_int_t mm_get_int_in_range(mp_obj_t o, mp_int_t lo, mp_int_t hi, const char *what) {
    mm_require_int(o, what);
    if (mp_obj_is_small_int(o)) {
        mp_int_t v = MP_OBJ_SMALL_INT_VALUE(o);
        if (v >= lo && v <= hi) {
            return v;
        }
    }
    // A big int is beyond every range used here.
    mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s out of range"), what);
}

// A non-negative int that fits in 64 bits (timestamps, physical addresses).
static uint64_t mm_get_u64(mp_obj_t o, const char *what) {
    mm_require_int(o, what);
    if (mp_obj_is_small_int(o)) {
        mp_int_t v = MP_OBJ_SMALL_INT_VALUE(o);
        if (v >= 0) {
            return (uint64_t)v;
        }
    }
    #if MICROPY_LONGINT_IMPL != MICROPY_LONGINT_IMPL_NONE
    else if (mp_obj_int_sign(o) >= 0
             && mp_binary_op(MP_BINARY_OP_LESS_EQUAL, o, mp_obj_new_int_from_ull(UINT64_MAX)) == mp_const_true) {
        byte le[8];
        mp_obj_int_to_bytes_impl(o, false, sizeof(le), le);
        uint64_t v = 0;
        for (size_t i = sizeof(le); i > 0; i--) {
            v = (v << 8) | le[i - 1];
        }
        return v;
    }
    #endif
    mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s must be 0..2**64-1"), what);
}

// 0 <= size <= limit.
static size_t mm_get_size(mp_obj_t o, size_t limit) {
    mm_require_int(o, "size");
    if (mp_obj_is_small_int(o)) {
        mp_int_t v = MP_OBJ_SMALL_INT_VALUE(o);
        if (v >= 0 && (mp_uint_t)v <= limit) {
            return (size_t)v;
        }
    }
    mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("size must be 0..%u"), (unsigned int)limit);
}

// 0/1/2, or the codec's name as in the manual's example.
static int32_t mm_get_video_type(mp_obj_t o) {
    if (mp_obj_is_str(o)) {
        static const char *const names[] = { "h264", "h265", "mjpeg" };
        size_t len;
        const char *s = mp_obj_str_get_data(o, &len);
        for (size_t i = 0; i < MP_ARRAY_SIZE(names); i++) {
            if (len == strlen(names[i]) && memcmp(s, names[i], len) == 0) {
                return (int32_t)i;
            }
        }
        mp_raise_ValueError(MP_ERROR_TEXT("video_type must be \"h264\", \"h265\" or \"mjpeg\""));
    }
    if (!mp_obj_is_int(o)) {
        mm_raise_type("video_type must be an int or str");
    }
    return (int32_t)mm_get_int_in_range(o, CANMV_RTSP_VIDEO_H264, CANMV_RTSP_VIDEO_MJPEG,
        "video_type (0, 1 or 2)");
}

// A keyword-only G.711 codec (audio_codec, backchannel_codec): "pcmu" (the
// default, as CanMV sends) or "pcma", case-sensitive like the video type
// names. MP_OBJ_NULL: not given. `what`: the keyword, for the errors.
static int32_t mm_get_g711(mp_obj_t o, const char *what) {
    if (o == MP_OBJ_NULL) {
        return CANMV_RTSP_AUDIO_PCMU;
    }
    if (!mp_obj_is_str(o)) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("%s must be a str"), what);
    }
    size_t len;
    const char *s = mp_obj_str_get_data(o, &len);
    if (len == 4 && memcmp(s, "pcmu", 4) == 0) {
        return CANMV_RTSP_AUDIO_PCMU;
    }
    if (len == 4 && memcmp(s, "pcma", 4) == 0) {
        return CANMV_RTSP_AUDIO_PCMA;
    }
    mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s must be \"pcmu\" or \"pcma\""), what);
}

// A count option: any int that fits in the uint32_t it travels as (the
// library says which values it takes).
static uint32_t mm_get_u32(mp_obj_t o, const char *what) {
    mm_require_int(o, what);
    if (mp_obj_is_small_int(o)) {
        mp_int_t v = MP_OBJ_SMALL_INT_VALUE(o);
        if (v >= 0 && (uint64_t)v <= UINT32_MAX) {
            return (uint32_t)v;
        }
    }
    mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s out of range"), what);
}

// One user of the `users` keyword: two str (the library checks the name).
static void mm_get_user(mp_obj_t name_in, mp_obj_t password_in, canmv_rtsp_user *out) {
    if (!mp_obj_is_str(name_in) || !mp_obj_is_str(password_in)) {
        mm_raise_type("users: names and passwords must be str");
    }
    size_t name_len, password_len;
    out->name = mp_obj_str_get_data(name_in, &name_len);
    out->password = mp_obj_str_get_data(password_in, &password_len);
    out->name_len = name_len;
    out->password_len = password_len;
}

static bool mm_is_user_pair(mp_obj_t o, size_t *len, mp_obj_t **items) {
    if (!mp_obj_is_type(o, &mp_type_tuple) && !mp_obj_is_type(o, &mp_type_list)) {
        return false;
    }
    mp_obj_get_array(o, len, items);
    return true;
}

// The `users` keyword of init: a (name, password) tuple, a list or tuple of
// such pairs, or a dict name -> password. Returns how many users were written
// to *out: an array on the GC heap, never NULL (even for no users, which the
// library refuses), that the caller frees with m_del. A raise part way leaves
// the array to the garbage collector.
static size_t mm_get_users(mp_obj_t users_in, canmv_rtsp_user **out) {
    size_t n;
    mp_obj_t *items;
    if (mp_obj_is_type(users_in, &mp_type_dict)) {
        mp_map_t *map = mp_obj_dict_get_map(users_in);
        canmv_rtsp_user *users = m_new(canmv_rtsp_user, map->used + 1);
        size_t k = 0;
        for (size_t i = 0; i < map->alloc && k < map->used; i++) {
            if (mp_map_slot_is_filled(map, i)) {
                mm_get_user(map->table[i].key, map->table[i].value, &users[k++]);
            }
        }
        *out = users;
        return k;
    }
    if (!mm_is_user_pair(users_in, &n, &items)) {
        mm_raise_type("users must be a (name, password) tuple, a list of them, or a dict");
    }
    // ("name", "password"): one user.
    bool one = mp_obj_is_type(users_in, &mp_type_tuple) && n == 2 && mp_obj_is_str(items[0]);
    canmv_rtsp_user *users = m_new(canmv_rtsp_user, (one ? 1 : n) + 1);
    *out = users;
    if (one) {
        mm_get_user(items[0], items[1], &users[0]);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        size_t pair_len;
        mp_obj_t *pair;
        if (!mm_is_user_pair(items[i], &pair_len, &pair)) {
            mm_raise_type("users: each entry must be a (name, password) tuple");
        }
        if (pair_len != 2) {
            mp_raise_ValueError(MP_ERROR_TEXT("users: each entry must be a (name, password) tuple"));
        }
        mm_get_user(pair[0], pair[1], &users[i]);
    }
    return n;
}

/******************************************************************************/
// Results.

static mp_obj_t mm_none_or_raise(int32_t rc) {
    if (rc < 0) {
        mp_raise_OSError(-rc);
    }
    return mp_const_none;
}

/******************************************************************************/
// The calls. Each takes the server object (NULL: the module-level default
// server does not exist) and the arguments after self.

static mp_obj_t mm_create(mm_rtsp_server_obj_t *self) {
    // On an object this is a no-op (CanMV raised TypeError); it also revives a
    // destroyed one.
    if (self->destroyed && self->busy == 0) {
        self->destroyed = false;
    }
    int err;
    if (mm_server_enter(self, &err) == NULL) {
        return mp_obj_new_int(-err);
    }
    mm_server_leave(self);
    return MP_OBJ_NEW_SMALL_INT(0);
}

static mp_obj_t mm_destroy(mm_rtsp_server_obj_t *self) {
    if (self == NULL) {
        return mp_obj_new_int(-MP_ENODEV);
    }
    return mp_obj_new_int(mm_server_destroy(self));
}

// init(port, *, max_clients, max_clients_per_session, max_sessions,
// max_connections, session_timeout, tcp_only, users, auth_basic, http_port): the
// keywords' values in `kw` (MP_OBJ_NULL: not given, keep the library's
// default). One library call checks every value and binds; a refused or
// failed init changes nothing, and deinit restores the defaults.
// The five counts come first, in the order of canmv_rtsp_options' fields.
enum { MM_INIT_TCP_ONLY = 5, MM_INIT_USERS, MM_INIT_AUTH_BASIC, MM_INIT_HTTP_PORT, MM_INIT_COUNT };
static const mp_arg_t mm_init_args[MM_INIT_COUNT] = {
    { MP_QSTR_max_clients, MP_ARG_KW_ONLY | MP_ARG_OBJ, { .u_obj = MP_OBJ_NULL } },
    { MP_QSTR_max_clients_per_session, MP_ARG_KW_ONLY | MP_ARG_OBJ, { .u_obj = MP_OBJ_NULL } },
    { MP_QSTR_max_sessions, MP_ARG_KW_ONLY | MP_ARG_OBJ, { .u_obj = MP_OBJ_NULL } },
    { MP_QSTR_max_connections, MP_ARG_KW_ONLY | MP_ARG_OBJ, { .u_obj = MP_OBJ_NULL } },
    { MP_QSTR_session_timeout, MP_ARG_KW_ONLY | MP_ARG_OBJ, { .u_obj = MP_OBJ_NULL } },
    { MP_QSTR_tcp_only, MP_ARG_KW_ONLY | MP_ARG_OBJ, { .u_obj = MP_OBJ_NULL } },
    { MP_QSTR_users, MP_ARG_KW_ONLY | MP_ARG_OBJ, { .u_obj = MP_OBJ_NULL } },
    { MP_QSTR_auth_basic, MP_ARG_KW_ONLY | MP_ARG_BOOL, { .u_bool = false } },
    { MP_QSTR_http_port, MP_ARG_KW_ONLY | MP_ARG_OBJ, { .u_obj = MP_OBJ_NULL } },
};

static mp_obj_t mm_init(mm_rtsp_server_obj_t *self, const mp_obj_t *args, const mp_arg_val_t *kw) {
    uint16_t port = (uint16_t)mm_get_int_in_range(args[0], 1, 65535, "port");
    canmv_rtsp_options options = canmv_rtsp_default_options();
    uint32_t *counts[] = {
        &options.max_clients, &options.max_clients_per_session, &options.max_sessions,
        &options.max_connections, &options.session_timeout_s,
    };
    for (size_t k = 0; k < MM_INIT_TCP_ONLY; k++) {
        if (kw[k].u_obj != MP_OBJ_NULL) {
            *counts[k] = mm_get_u32(kw[k].u_obj, qstr_str(mm_init_args[k].qst));
        }
    }
    mp_obj_t tcp_only = kw[MM_INIT_TCP_ONLY].u_obj;
    if (tcp_only != MP_OBJ_NULL) {
        options.tcp_only = mp_obj_is_true(tcp_only);
    }
    // http_port: None (the default) for none, else a port other than `port`.
    mp_obj_t http_port = kw[MM_INIT_HTTP_PORT].u_obj;
    if (http_port != MP_OBJ_NULL && http_port != mp_const_none) {
        options.http_port = (uint16_t)mm_get_int_in_range(http_port, 1, 65535, "http_port");
        if (options.http_port == port) {
            mp_raise_ValueError(MP_ERROR_TEXT("http_port must differ from port"));
        }
    }
    canmv_rtsp_user *users = NULL;
    size_t user_count = 0;
    mp_obj_t users_in = kw[MM_INIT_USERS].u_obj;
    if (users_in != MP_OBJ_NULL && users_in != mp_const_none) {
        user_count = mm_get_users(users_in, &users);
    }
    int err = 0;
    canmv_rtsp_server *server = mm_server_enter(self, &err);
    int32_t rc = -err;
    if (server != NULL) {
        MM_RELEASE_GIL();
        rc = canmv_rtsp_init(server, port, &options, users, user_count, kw[MM_INIT_AUTH_BASIC].u_bool);
        MM_ACQUIRE_GIL();
        mm_server_leave(self);
    }
    if (users != NULL) {
        m_del(canmv_rtsp_user, users, user_count + 1);
    }
    if (rc == -EINVAL) {
        mp_raise_ValueError(MP_ERROR_TEXT("rtspserver_init: a count is 0, users is empty, "
            "or a user name is empty or has ':' or a control character"));
    }
    return mp_obj_new_int(rc);
}

// deinit, start and stop: no arguments, None or OSError.
static mp_obj_t mm_state_call(mm_rtsp_server_obj_t *self, int32_t (*call)(canmv_rtsp_server *)) {
    int err;
    canmv_rtsp_server *server = mm_server_enter(self, &err);
    if (server == NULL) {
        mp_raise_OSError(err);
    }
    MM_RELEASE_GIL();
    int32_t rc = call(server);
    MM_ACQUIRE_GIL();
    mm_server_leave(self);
    return mm_none_or_raise(rc);
}

// createsession(name, video_type, enable_audio, *, audio_codec="pcmu",
// gop_cache=True, backchannel=False, backchannel_codec="pcmu"). The codecs
// are checked even when their track is off (a typo is a mistake either way)
// but only used when it is on. An existing session is left unchanged,
// gop_cache and back channel included, as CanMV leaves it.
static const mp_arg_t mm_createsession_args[] = {
    { MP_QSTR_audio_codec, MP_ARG_KW_ONLY | MP_ARG_OBJ, { .u_obj = MP_OBJ_NULL } },
    { MP_QSTR_gop_cache, MP_ARG_KW_ONLY | MP_ARG_BOOL, { .u_bool = true } },
    { MP_QSTR_backchannel, MP_ARG_KW_ONLY | MP_ARG_BOOL, { .u_bool = false } },
    { MP_QSTR_backchannel_codec, MP_ARG_KW_ONLY | MP_ARG_OBJ, { .u_obj = MP_OBJ_NULL } },
};

static mp_obj_t mm_createsession(mm_rtsp_server_obj_t *self, const mp_obj_t *args, const mp_arg_val_t *kw) {
    size_t name_len;
    const char *name = mm_get_name(args[0], &name_len);
    int32_t video_type = mm_get_video_type(args[1]);
    int32_t audio_codec = mm_get_g711(kw[0].u_obj, "audio_codec");
    if (!mp_obj_is_true(args[2])) {
        audio_codec = CANMV_RTSP_AUDIO_NONE;
    }
    int32_t backchannel_codec = mm_get_g711(kw[3].u_obj, "backchannel_codec");
    if (!kw[2].u_bool) {
        backchannel_codec = CANMV_RTSP_AUDIO_NONE;
    }
    int err;
    canmv_rtsp_server *server = mm_server_enter(self, &err);
    if (server == NULL) {
        return mp_obj_new_int(-err);
    }
    MM_RELEASE_GIL();
    int32_t rc =
        canmv_rtsp_create_session(server, name, name_len, video_type, audio_codec, kw[1].u_bool, backchannel_codec);
    MM_ACQUIRE_GIL();
    mm_server_leave(self);
    return mp_obj_new_int(rc);
}

static mp_obj_t mm_destroysession(mm_rtsp_server_obj_t *self, const mp_obj_t *args) {
    size_t name_len;
    const char *name = mm_get_name(args[0], &name_len);
    int err;
    canmv_rtsp_server *server = mm_server_enter(self, &err);
    if (server == NULL) {
        return mp_obj_new_int(-err);
    }
    MM_RELEASE_GIL();
    int32_t rc = canmv_rtsp_destroy_session(server, name, name_len);
    MM_ACQUIRE_GIL();
    mm_server_leave(self);
    return mp_obj_new_int(rc);
}

static mp_obj_t mm_getrtspurl(mm_rtsp_server_obj_t *self, size_t n_args, const mp_obj_t *args) {
    size_t name_len;
    const char *name = mm_get_optional_name(n_args, args, &name_len);
    char url[MM_URL_CAP];
    int err;
    canmv_rtsp_server *server = mm_server_enter(self, &err);
    if (server == NULL) {
        mp_raise_OSError(err);
    }
    MM_RELEASE_GIL();
    int32_t rc = canmv_rtsp_get_url(server, name, name_len, url, sizeof(url));
    MM_ACQUIRE_GIL();
    mm_server_leave(self);
    if (rc == -ENOENT) {
        mp_raise_ValueError(name == NULL ? MP_ERROR_TEXT("no session") : MP_ERROR_TEXT("no session with that name"));
    }
    if (rc < 0) {
        mp_raise_OSError(-rc);
    }
    return mp_obj_new_str(url, (size_t)rc < sizeof(url) ? (size_t)rc : sizeof(url) - 1);
}

typedef int32_t (*mm_send_fn)(canmv_rtsp_server *, const char *, uintptr_t, const uint8_t *, uintptr_t, uint64_t);

static mp_obj_t mm_send(mm_rtsp_server_obj_t *self, const mp_obj_t *args, mm_send_fn send) {
    size_t name_len;
    const char *name = mm_get_name(args[0], &name_len);
    mp_buffer_info_t data;
    mp_get_buffer_raise(args[1], &data, MP_BUFFER_READ);
    size_t size = mm_get_size(args[2], data.len);
    uint64_t timestamp = mm_get_u64(args[3], "timestamp");
    int err;
    canmv_rtsp_server *server = mm_server_enter(self, &err);
    if (server == NULL) {
        return mp_obj_new_int(-err);
    }
    // `data` stays alive: the caller's frame holds it. The library copies it.
    MM_RELEASE_GIL();
    int32_t rc = send(server, name, name_len, (const uint8_t *)data.buf, size, timestamp);
    MM_ACQUIRE_GIL();
    mm_server_leave(self);
    return mp_obj_new_int(rc);
}

// recvaudiodata(name, buf): the back channel's audio into a writable buffer;
// the bytes copied (0: none waiting), or a negative errno as the send calls
// give (-ENOENT: no session, -EINVAL: a session without a back channel).
// The GIL stays held: the copy is short, and no other thread may resize the
// buffer while the library writes into it.
static mp_obj_t mm_recvaudiodata(mm_rtsp_server_obj_t *self, const mp_obj_t *args) {
    size_t name_len;
    const char *name = mm_get_name(args[0], &name_len);
    mp_buffer_info_t buf;
    mp_get_buffer_raise(args[1], &buf, MP_BUFFER_WRITE);
    int err;
    canmv_rtsp_server *server = mm_server_enter(self, &err);
    if (server == NULL) {
        return mp_obj_new_int(-err);
    }
    int32_t rc = canmv_rtsp_recv_audio(server, name, name_len, (uint8_t *)buf.buf, buf.len);
    mm_server_leave(self);
    return mp_obj_new_int(rc);
}

#if defined(CANMV_K230)
// The K230 MPP's system API: kd_mpi_sys_mmap / kd_mpi_sys_munmap (libsys.a).
#include "mpi_sys_api.h"
#endif

// Calls `send` on the `size` bytes at physical address `phy_addr` (an
// encoder pack the MPP wrote by DMA), mapped for the call only. The library
// copies the bytes before it returns. -EFAULT when the address is 0 or the
// mapping fails; a size of 0 maps nothing and passes an empty buffer.
typedef int32_t (*mm_phys_fn)(void *target, const uint8_t *data, size_t size, uint64_t timestamp);

#if defined(CANMV_K230)
static int32_t mm_with_phys(void *target, uint64_t phy_addr, size_t size, uint64_t timestamp, mm_phys_fn send) {
    if (size == 0) {
        return send(target, NULL, 0, timestamp);
    }
    if (phy_addr == 0) {
        // What a script passes for a pack without an address; never a buffer.
        return -EFAULT;
    }
    // Uncached: the encoder wrote the pack by DMA.
    void *virt = kd_mpi_sys_mmap((k_u64)phy_addr, (k_u32)size);
    if (virt == NULL || virt == (void *)-1) {
        return -EFAULT;
    }
    int32_t rc = send(target, (const uint8_t *)virt, size, timestamp);
    // A failed unmap does not change the send's result.
    (void)kd_mpi_sys_munmap(virt, (k_u32)size);
    return rc;
}
#endif

// One server send by name, for mm_with_phys.
typedef struct {
    canmv_rtsp_server *server;
    const char *name;
    size_t name_len;
    mm_send_fn send;
} mm_server_send_t;

#if defined(CANMV_K230)
static int32_t mm_server_send_phys(void *target, const uint8_t *data, size_t size, uint64_t timestamp) {
    mm_server_send_t *s = target;
    return s->send(s->server, s->name, s->name_len, data, size, timestamp);
}
#endif

// name, phy_addr, size, timestamp: an encoder pack by its physical address.
// The argument checks are the same in every build; the MPP takes the size as
// a k_u32, hence the UINT32_MAX limit.
static mp_obj_t mm_send_byphyaddr(mm_rtsp_server_obj_t *self, const mp_obj_t *args, mm_send_fn send) {
    size_t name_len;
    const char *name = mm_get_name(args[0], &name_len);
    uint64_t phy_addr = mm_get_u64(args[1], "phy_addr");
    size_t size = mm_get_size(args[2], (size_t)UINT32_MAX);
    uint64_t timestamp = mm_get_u64(args[3], "timestamp");
    #if defined(CANMV_K230)
    int err;
    canmv_rtsp_server *server = mm_server_enter(self, &err);
    if (server == NULL) {
        return mp_obj_new_int(-err);
    }
    mm_server_send_t target = { server, name, name_len, send };
    MM_RELEASE_GIL();
    int32_t rc = mm_with_phys(&target, phy_addr, size, timestamp, mm_server_send_phys);
    MM_ACQUIRE_GIL();
    mm_server_leave(self);
    return mp_obj_new_int(rc);
    #else
    // Physical addresses only mean something on the board.
    (void)self;
    (void)name;
    (void)phy_addr;
    (void)size;
    (void)timestamp;
    (void)send;
    mp_raise_OSError(MP_EOPNOTSUPP);
    #endif
}

static mp_obj_t mm_needkeyframe(mm_rtsp_server_obj_t *self, size_t n_args, const mp_obj_t *args) {
    size_t name_len;
    const char *name = mm_get_optional_name(n_args, args, &name_len);
    int err;
    canmv_rtsp_server *server = mm_server_enter(self, &err);
    if (server == NULL) {
        mp_raise_OSError(err);
    }
    MM_RELEASE_GIL();
    int32_t rc = canmv_rtsp_need_keyframe(server, name, name_len);
    MM_ACQUIRE_GIL();
    mm_server_leave(self);
    if (rc == -ENOENT) {
        mp_raise_ValueError(MP_ERROR_TEXT("no session with that name"));
    }
    mm_none_or_raise(rc);
    return mp_obj_new_bool(rc > 0);
}

static mp_obj_t mm_client_dict(const canmv_rtsp_client_stats *c) {
    mp_obj_t dict = mp_obj_new_dict(7);
    size_t peer_len = strnlen(c->peer, sizeof(c->peer));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_peer), mp_obj_new_str(c->peer, peer_len));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_port), MP_OBJ_NEW_SMALL_INT(c->peer_port));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_transport),
        MP_OBJ_NEW_QSTR(c->tunnelled ? MP_QSTR_http : c->tcp ? MP_QSTR_tcp : MP_QSTR_udp));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_playing), mp_obj_new_bool(c->playing));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_waiting_keyframe), mp_obj_new_bool(c->waiting_keyframe));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_frames_dropped), mp_obj_new_int_from_ull(c->frames_dropped));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_talking), mp_obj_new_bool(c->talking));
    return dict;
}

// The session's figures and its clients, as of one moment: one library call
// into an array made before the call (so that no Python allocation, which may
// raise, happens while the server is marked busy), again with a bigger one if
// clients joined meanwhile.
static mp_obj_t mm_getstats(mm_rtsp_server_obj_t *self, size_t n_args, const mp_obj_t *args) {
    size_t name_len;
    const char *name = mm_get_optional_name(n_args, args, &name_len);
    canmv_rtsp_stats stats;
    size_t cap = 8;
    canmv_rtsp_client_stats *clients = m_new(canmv_rtsp_client_stats, cap);
    int32_t rc;
    for (;;) {
        int err;
        canmv_rtsp_server *server = mm_server_enter(self, &err);
        if (server == NULL) {
            m_del(canmv_rtsp_client_stats, clients, cap);
            mp_raise_OSError(err);
        }
        MM_RELEASE_GIL();
        rc = canmv_rtsp_get_stats(server, name, name_len, &stats, clients, cap);
        MM_ACQUIRE_GIL();
        mm_server_leave(self);
        if (rc <= (int32_t)cap) {
            break;
        }
        clients = m_renew(canmv_rtsp_client_stats, clients, cap, (size_t)rc);
        cap = (size_t)rc;
    }
    if (rc < 0) {
        m_del(canmv_rtsp_client_stats, clients, cap);
        if (rc == -ENOENT) {
            mp_raise_ValueError(MP_ERROR_TEXT("no session with that name"));
        }
        mp_raise_OSError(-rc);
    }
    mp_obj_t dict = mp_obj_new_dict(10);
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_clients), mp_obj_new_int_from_uint(stats.clients));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_playing), mp_obj_new_int_from_uint(stats.playing));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_packets_sent), mp_obj_new_int_from_ull(stats.packets_sent));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_bytes_sent), mp_obj_new_int_from_ull(stats.bytes_sent));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_frames_dropped), mp_obj_new_int_from_ull(stats.frames_dropped));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_keyframe_waits), mp_obj_new_int_from_ull(stats.keyframe_waits));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_backchannel_bytes), mp_obj_new_int_from_ull(stats.backchannel_bytes));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_backchannel_dropped),
        mp_obj_new_int_from_ull(stats.backchannel_dropped));
    // The talking client as per_client names it ({"peer", "port"}), or None.
    mp_obj_t talker = mp_const_none;
    mp_obj_t per_client = mp_obj_new_list(0, NULL);
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_per_client), per_client);
    for (int32_t i = 0; i < rc; i++) {
        mp_obj_t client = mm_client_dict(&clients[i]);
        mp_obj_list_append(per_client, client);
        if (clients[i].talking && talker == mp_const_none) {
            talker = mp_obj_new_dict(2);
            mp_obj_dict_store(talker, MP_OBJ_NEW_QSTR(MP_QSTR_peer), mp_obj_dict_get(client, MP_OBJ_NEW_QSTR(MP_QSTR_peer)));
            mp_obj_dict_store(talker, MP_OBJ_NEW_QSTR(MP_QSTR_port), mp_obj_dict_get(client, MP_OBJ_NEW_QSTR(MP_QSTR_port)));
        }
    }
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_backchannel_client), talker);
    m_del(canmv_rtsp_client_stats, clients, cap);
    return dict;
}

static mp_obj_t mm_call(mm_rtsp_server_obj_t *self, qstr op, size_t n_args, const mp_obj_t *args) {
    switch (op) {
        case MP_QSTR_rtspserver_destroy:
            return mm_destroy(self);
        case MP_QSTR_rtspserver_deinit:
            return mm_state_call(self, canmv_rtsp_deinit);
        case MP_QSTR_rtspserver_start:
            return mm_state_call(self, canmv_rtsp_start);
        case MP_QSTR_rtspserver_stop:
            return mm_state_call(self, canmv_rtsp_stop);
        case MP_QSTR_rtspserver_destroysession:
            return mm_destroysession(self, args);
        case MP_QSTR_rtspserver_getrtspurl:
            return mm_getrtspurl(self, n_args, args);
        case MP_QSTR_rtspserver_sendvideodata:
            return mm_send(self, args, canmv_rtsp_send_video);
        case MP_QSTR_rtspserver_sendaudiodata:
            return mm_send(self, args, canmv_rtsp_send_audio);
        case MP_QSTR_rtspserver_sendvideodata_byphyaddr:
            return mm_send_byphyaddr(self, args, canmv_rtsp_send_video);
        case MP_QSTR_rtspserver_sendaudiodata_byphyaddr:
            return mm_send_byphyaddr(self, args, canmv_rtsp_send_audio);
        case MP_QSTR_rtspserver_getstats:
            return mm_getstats(self, n_args, args);
        case MP_QSTR_rtspserver_recvaudiodata:
            return mm_recvaudiodata(self, args);
        case MP_QSTR_rtspserver_needkeyframe:
            return mm_needkeyframe(self, n_args, args);
        default:
            return mp_const_none;
    }
}

/******************************************************************************/
// The module-wide default server of the manual's module-level functions.

MP_REGISTER_ROOT_POINTER(mp_obj_t multimedia_default_server);

static mm_rtsp_server_obj_t *mm_default_server(void) {
    mp_obj_t server = MP_STATE_VM(multimedia_default_server);
    return server == MP_OBJ_NULL ? NULL : MP_OBJ_TO_PTR(server);
}

static mp_obj_t mm_module_create(void) {
    if (mm_default_server() != NULL) {
        return MP_OBJ_NEW_SMALL_INT(0);
    }
    mm_rtsp_server_obj_t *self = mm_server_alloc();
    self->server = canmv_rtsp_server_new();
    if (self->server == NULL) {
        return mp_obj_new_int(-MP_ENOMEM);
    }
    MP_STATE_VM(multimedia_default_server) = MP_OBJ_FROM_PTR(self);
    return MP_OBJ_NEW_SMALL_INT(0);
}
static MP_DEFINE_CONST_FUN_OBJ_0(mm_module_create_obj, mm_module_create);

static mp_obj_t mm_module_destroy(void) {
    mm_rtsp_server_obj_t *self = mm_default_server();
    MP_STATE_VM(multimedia_default_server) = MP_OBJ_NULL;
    return mm_destroy(self);
}
static MP_DEFINE_CONST_FUN_OBJ_0(mm_module_destroy_obj, mm_module_destroy);

static mp_obj_t mm_test(void) {
    return mp_obj_new_str("hello world", 11);
}
static MP_DEFINE_CONST_FUN_OBJ_0(mm_test_obj, mm_test);

#if MICROPY_MODULE_BUILTIN_INIT
// Runs on each first import: after a soft reset the old default server was
// finalised with the rest of the heap, so forget it.
static mp_obj_t mm_module_builtin_init(void) {
    MP_STATE_VM(multimedia_default_server) = MP_OBJ_NULL;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(mm_module_builtin_init_obj, mm_module_builtin_init);
#endif

/******************************************************************************/
// Methods and module functions, both made from mm_call.

static mp_obj_t mm_method(qstr op, size_t n_args, const mp_obj_t *args) {
    if (!mp_obj_is_type(args[0], &mm_rtsp_server_type)) {
        mm_raise_type("self must be an rtsp_server");
    }
    return mm_call(MP_OBJ_TO_PTR(args[0]), op, n_args - 1, args + 1);
}

// NAME: the Python name after `rtspserver_`; N_MIN/N_MAX: arguments after self.
#define MM_DEFINE_CALL(NAME, N_MIN, N_MAX) \
    static mp_obj_t mm_method_##NAME(size_t n_args, const mp_obj_t *args) { \
        return mm_method(MP_QSTR_rtspserver_##NAME, n_args, args); \
    } \
    static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mm_method_##NAME##_obj, (N_MIN) + 1, (N_MAX) + 1, mm_method_##NAME); \
    static mp_obj_t mm_module_##NAME(size_t n_args, const mp_obj_t *args) { \
        return mm_call(mm_default_server(), MP_QSTR_rtspserver_##NAME, n_args, args); \
    } \
    static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mm_module_##NAME##_obj, N_MIN, N_MAX, mm_module_##NAME)

MM_DEFINE_CALL(deinit, 0, 0);
MM_DEFINE_CALL(start, 0, 0);
MM_DEFINE_CALL(stop, 0, 0);
MM_DEFINE_CALL(destroysession, 1, 1);
MM_DEFINE_CALL(getrtspurl, 0, 1);
MM_DEFINE_CALL(sendvideodata, 4, 4);
MM_DEFINE_CALL(sendaudiodata, 4, 4);
MM_DEFINE_CALL(sendvideodata_byphyaddr, 4, 4);
MM_DEFINE_CALL(sendaudiodata_byphyaddr, 4, 4);
MM_DEFINE_CALL(getstats, 0, 1);
MM_DEFINE_CALL(recvaudiodata, 2, 2);
MM_DEFINE_CALL(needkeyframe, 0, 1);

// Calls with keyword-only extensions: N positional arguments as in CanMV,
// then the keywords of mm_NAME_args, parsed into their values for
// mm_NAME(self, args, values). NAME: the Python name after `rtspserver_`.
#define MM_DEFINE_KW_CALL(NAME, N) \
    static mp_obj_t mm_kw_##NAME(mm_rtsp_server_obj_t *self, size_t n_args, const mp_obj_t *args, mp_map_t *kw_args) { \
        if (n_args != (N)) { \
            mp_raise_msg_varg(&mp_type_TypeError, \
                MP_ERROR_TEXT("rtspserver_" #NAME " takes %d positional arguments but %d were given"), (N), (int)n_args); \
        } \
        mp_arg_val_t values[MP_ARRAY_SIZE(mm_##NAME##_args)]; \
        mp_arg_parse_all(0, NULL, kw_args, MP_ARRAY_SIZE(mm_##NAME##_args), mm_##NAME##_args, values); \
        return mm_##NAME(self, args, values); \
    } \
    static mp_obj_t mm_method_##NAME(size_t n_args, const mp_obj_t *args, mp_map_t *kw_args) { \
        if (!mp_obj_is_type(args[0], &mm_rtsp_server_type)) { \
            mm_raise_type("self must be an rtsp_server"); \
        } \
        return mm_kw_##NAME(MP_OBJ_TO_PTR(args[0]), n_args - 1, args + 1, kw_args); \
    } \
    static MP_DEFINE_CONST_FUN_OBJ_KW(mm_method_##NAME##_obj, 1, mm_method_##NAME); \
    static mp_obj_t mm_module_##NAME(size_t n_args, const mp_obj_t *args, mp_map_t *kw_args) { \
        return mm_kw_##NAME(mm_default_server(), n_args, args, kw_args); \
    } \
    static MP_DEFINE_CONST_FUN_OBJ_KW(mm_module_##NAME##_obj, 0, mm_module_##NAME)

MM_DEFINE_KW_CALL(init, 1);
MM_DEFINE_KW_CALL(createsession, 3);

static mp_obj_t mm_method_create(mp_obj_t self_in) {
    if (!mp_obj_is_type(self_in, &mm_rtsp_server_type)) {
        mm_raise_type("self must be an rtsp_server");
    }
    return mm_create(MP_OBJ_TO_PTR(self_in));
}
static MP_DEFINE_CONST_FUN_OBJ_1(mm_method_create_obj, mm_method_create);

static mp_obj_t mm_method_destroy(mp_obj_t self_in) {
    return mm_method(MP_QSTR_rtspserver_destroy, 1, &self_in);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mm_method_destroy_obj, mm_method_destroy);

static mp_obj_t mm_method_test(mp_obj_t self_in) {
    (void)self_in;
    return mm_test();
}
static MP_DEFINE_CONST_FUN_OBJ_1(mm_method_test_obj, mm_method_test);

// The GC collects an unreachable server: stop its thread and free it. The GIL
// is kept, as the collector is running. No call can be in progress then (it
// would hold a reference); if __del__ is called by hand during one, the last
// call out frees the server.
static mp_obj_t mm_method_del(mp_obj_t self_in) {
    if (!mp_obj_is_type(self_in, &mm_rtsp_server_type)) {
        mm_raise_type("self must be an rtsp_server");
    }
    mm_rtsp_server_obj_t *self = MP_OBJ_TO_PTR(self_in);
    self->destroyed = true;
    if (self->busy == 0 && self->server != NULL) {
        canmv_rtsp_server *server = self->server;
        self->server = NULL;
        canmv_rtsp_server_free(server);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mm_method_del_obj, mm_method_del);

static mp_obj_t mm_rtsp_server_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 0, 0, false);
    return MP_OBJ_FROM_PTR(mm_server_alloc());
}

static const mp_rom_map_elem_t mm_rtsp_server_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&mm_method_del_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_create), MP_ROM_PTR(&mm_method_create_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_destroy), MP_ROM_PTR(&mm_method_destroy_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_init), MP_ROM_PTR(&mm_method_init_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_deinit), MP_ROM_PTR(&mm_method_deinit_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_createsession), MP_ROM_PTR(&mm_method_createsession_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_destroysession), MP_ROM_PTR(&mm_method_destroysession_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_getrtspurl), MP_ROM_PTR(&mm_method_getrtspurl_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_start), MP_ROM_PTR(&mm_method_start_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_stop), MP_ROM_PTR(&mm_method_stop_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_sendvideodata), MP_ROM_PTR(&mm_method_sendvideodata_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_sendaudiodata), MP_ROM_PTR(&mm_method_sendaudiodata_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_sendvideodata_byphyaddr), MP_ROM_PTR(&mm_method_sendvideodata_byphyaddr_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_sendaudiodata_byphyaddr), MP_ROM_PTR(&mm_method_sendaudiodata_byphyaddr_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_getstats), MP_ROM_PTR(&mm_method_getstats_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_recvaudiodata), MP_ROM_PTR(&mm_method_recvaudiodata_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_needkeyframe), MP_ROM_PTR(&mm_method_needkeyframe_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_test), MP_ROM_PTR(&mm_method_test_obj) },
};
static MP_DEFINE_CONST_DICT(mm_rtsp_server_locals_dict, mm_rtsp_server_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    mm_rtsp_server_type,
    MP_QSTR_rtsp_server,
    MP_TYPE_FLAG_NONE,
    make_new, mm_rtsp_server_make_new,
    locals_dict, &mm_rtsp_server_locals_dict
    );

/******************************************************************************/
// The pusher object: mm.rtsp_pusher(), as the newer CanMV firmware has it.
// Every call on a destroyed pusher raises RuntimeError("RTSP pusher is
// deinitialized"), as CanMV's does.

typedef struct _mm_rtsp_pusher_obj_t {
    mp_obj_base_t base;
    // Made by the constructor; freed by rtsppusher_destroy or the finaliser
    // (by the last call out, when calls are in progress with the GIL released).
    canmv_rtsp_pusher *pusher;
    uint16_t busy;
    bool destroyed;
} mm_rtsp_pusher_obj_t;

extern const mp_obj_type_t mm_rtsp_pusher_type;

static mm_rtsp_pusher_obj_t *mm_pusher_new(void) {
    mm_rtsp_pusher_obj_t *self;
    #ifdef mp_obj_malloc_with_finaliser
    self = mp_obj_malloc_with_finaliser(mm_rtsp_pusher_obj_t, &mm_rtsp_pusher_type);
    #else
    self = m_new_obj_with_finaliser(mm_rtsp_pusher_obj_t);
    self->base.type = &mm_rtsp_pusher_type;
    #endif
    self->busy = 0;
    self->destroyed = false;
    self->pusher = canmv_rtsp_pusher_new();
    if (self->pusher == NULL) {
        self->destroyed = true;
        mp_raise_OSError(MP_ENOMEM);
    }
    return self;
}

static mm_rtsp_pusher_obj_t *mm_pusher_self(mp_obj_t self_in) {
    if (!mp_obj_is_type(self_in, &mm_rtsp_pusher_type)) {
        mm_raise_type("self must be an rtsp_pusher");
    }
    return MP_OBJ_TO_PTR(self_in);
}

// The pusher for one call, counted as busy until mm_pusher_leave.
static canmv_rtsp_pusher *mm_pusher_enter(mm_rtsp_pusher_obj_t *self) {
    if (self->destroyed || self->pusher == NULL) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("RTSP pusher is deinitialized"));
    }
    self->busy++;
    return self->pusher;
}

static void mm_pusher_free_now(mm_rtsp_pusher_obj_t *self, bool release_gil) {
    canmv_rtsp_pusher *pusher = self->pusher;
    self->pusher = NULL;
    if (release_gil) {
        MM_RELEASE_GIL();
    }
    // TEARDOWN if open, then the thread stops.
    canmv_rtsp_pusher_free(pusher);
    if (release_gil) {
        MM_ACQUIRE_GIL();
    }
}

static void mm_pusher_leave(mm_rtsp_pusher_obj_t *self) {
    self->busy--;
    if (self->busy == 0 && self->destroyed && self->pusher != NULL) {
        mm_pusher_free_now(self, true);
    }
}

// The calls that take only self and return the library's int, or None.
typedef int32_t (*mm_pusher_fn)(canmv_rtsp_pusher *);

static int32_t mm_pusher_call(mp_obj_t self_in, mm_pusher_fn fn) {
    mm_rtsp_pusher_obj_t *self = mm_pusher_self(self_in);
    canmv_rtsp_pusher *pusher = mm_pusher_enter(self);
    MM_RELEASE_GIL();
    int32_t rc = fn(pusher);
    MM_ACQUIRE_GIL();
    mm_pusher_leave(self);
    return rc;
}

// rtsppusher_create(): on an object, the object itself (CanMV's constructor
// under another name); through the class, a new object.
static mp_obj_t mm_pusher_create(size_t n_args, const mp_obj_t *args) {
    if (n_args == 1) {
        mm_rtsp_pusher_obj_t *self = mm_pusher_self(args[0]);
        if (self->destroyed && self->busy == 0) {
            self->pusher = canmv_rtsp_pusher_new();
            if (self->pusher == NULL) {
                mp_raise_OSError(MP_ENOMEM);
            }
            self->destroyed = false;
        }
        return args[0];
    }
    return MP_OBJ_FROM_PTR(mm_pusher_new());
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mm_pusher_create_obj, 0, 1, mm_pusher_create);

static mp_obj_t mm_pusher_destroy(mp_obj_t self_in) {
    mm_rtsp_pusher_obj_t *self = mm_pusher_self(self_in);
    if (self->destroyed) {
        return mp_const_none;
    }
    self->destroyed = true;
    if (self->busy == 0 && self->pusher != NULL) {
        mm_pusher_free_now(self, true);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mm_pusher_destroy_obj, mm_pusher_destroy);

// The finaliser: the GC runs it with the GIL held; no call can be in progress.
static mp_obj_t mm_pusher_del(mp_obj_t self_in) {
    mm_rtsp_pusher_obj_t *self = mm_pusher_self(self_in);
    self->destroyed = true;
    if (self->busy == 0 && self->pusher != NULL) {
        mm_pusher_free_now(self, false);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mm_pusher_del_obj, mm_pusher_del);

// The smallest queue the library takes (CANMV_RTSP_PUSHER_MIN_QUEUE in src/ffi/pusher.rs).
#define MM_PUSHER_MIN_QUEUE (64 * 1024)

enum {
    MM_PUSH_WIDTH, MM_PUSH_HEIGHT, MM_PUSH_URL, MM_PUSH_FPS, MM_PUSH_TRANSPORT,
    MM_PUSH_VIDEO_TYPE, MM_PUSH_ENABLE_AUDIO, MM_PUSH_AUDIO_CODEC, MM_PUSH_TIMEOUT, MM_PUSH_QUEUE_BYTES,
    MM_PUSH_INIT_COUNT
};
static const mp_arg_t mm_pusher_init_args[MM_PUSH_INIT_COUNT] = {
    [MM_PUSH_WIDTH] = { MP_QSTR_video_width, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    [MM_PUSH_HEIGHT] = { MP_QSTR_video_height, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    [MM_PUSH_URL] = { MP_QSTR_url, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    [MM_PUSH_FPS] = { MP_QSTR_fps, MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    [MM_PUSH_TRANSPORT] = { MP_QSTR_transport, MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    [MM_PUSH_VIDEO_TYPE] = { MP_QSTR_video_type, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    [MM_PUSH_ENABLE_AUDIO] = { MP_QSTR_enable_audio, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
    [MM_PUSH_AUDIO_CODEC] = { MP_QSTR_audio_codec, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    [MM_PUSH_TIMEOUT] = { MP_QSTR_timeout, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    [MM_PUSH_QUEUE_BYTES] = { MP_QSTR_queue_bytes, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
};

// timeout= in seconds (an int, or a float where floats exist): 0 < t <= 600, as ms.
static uint32_t mm_get_timeout_ms(mp_obj_t o) {
    #if MICROPY_PY_BUILTINS_FLOAT
    if (mp_obj_is_float(o)) {
        mp_float_t t = mp_obj_get_float(o);
        if (t > 0 && t <= 600) {
            uint32_t ms = (uint32_t)(t * 1000);
            return ms > 0 ? ms : 1;
        }
        mp_raise_ValueError(MP_ERROR_TEXT("timeout must be over 0 and at most 600 seconds"));
    }
    #endif
    if (!mp_obj_is_int(o)) {
        mm_raise_type("timeout must be a number of seconds");
    }
    return (uint32_t)mm_get_int_in_range(o, 1, 600, "timeout (1..600 seconds)") * 1000;
}

// init(video_width, video_height, url, fps=25, transport="tcp", *,
// video_type, enable_audio, audio_codec, timeout, queue_bytes): 0 or a
// negative errno; arguments the library would refuse raise first.
static mp_obj_t mm_pusher_init(size_t n_args, const mp_obj_t *args, mp_map_t *kw_args) {
    mm_rtsp_pusher_obj_t *self = mm_pusher_self(args[0]);
    mp_arg_val_t kw[MM_PUSH_INIT_COUNT];
    mp_arg_parse_all(n_args - 1, args + 1, kw_args, MM_PUSH_INIT_COUNT, mm_pusher_init_args, kw);
    canmv_rtsp_pusher_options o = canmv_rtsp_pusher_default_options();
    o.width = (uint32_t)mm_get_int_in_range(kw[MM_PUSH_WIDTH].u_obj, 0, 65535, "video_width");
    o.height = (uint32_t)mm_get_int_in_range(kw[MM_PUSH_HEIGHT].u_obj, 0, 65535, "video_height");
    mp_obj_t url_in = kw[MM_PUSH_URL].u_obj;
    if (!mp_obj_is_str(url_in)) {
        mm_raise_type("url must be a str");
    }
    size_t url_len;
    const char *url = mp_obj_str_get_data(url_in, &url_len);
    char reason[96];
    if (canmv_rtsp_pusher_check_url(url, url_len, reason, sizeof(reason)) != 0) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s"), reason);
    }
    if (kw[MM_PUSH_FPS].u_obj != MP_OBJ_NULL) {
        o.fps = (uint32_t)mm_get_int_in_range(kw[MM_PUSH_FPS].u_obj, 1, 120, "fps (1..120)");
    }
    mp_obj_t transport = kw[MM_PUSH_TRANSPORT].u_obj;
    if (transport != MP_OBJ_NULL) {
        if (!mp_obj_is_str(transport)) {
            mm_raise_type("transport must be a str");
        }
        size_t len;
        const char *s = mp_obj_str_get_data(transport, &len);
        if (len == 3 && memcmp(s, "tcp", 3) == 0) {
            o.tcp = true;
        } else if (len == 3 && memcmp(s, "udp", 3) == 0) {
            o.tcp = false;
        } else {
            mp_raise_ValueError(MP_ERROR_TEXT("transport must be \"tcp\" or \"udp\""));
        }
    }
    if (kw[MM_PUSH_VIDEO_TYPE].u_obj != MP_OBJ_NULL) {
        o.video_type = mm_get_video_type(kw[MM_PUSH_VIDEO_TYPE].u_obj);
    }
    int32_t audio_codec = mm_get_g711(kw[MM_PUSH_AUDIO_CODEC].u_obj, "audio_codec");
    o.audio_codec = kw[MM_PUSH_ENABLE_AUDIO].u_bool ? audio_codec : CANMV_RTSP_AUDIO_NONE;
    if (kw[MM_PUSH_TIMEOUT].u_obj != MP_OBJ_NULL) {
        o.timeout_ms = mm_get_timeout_ms(kw[MM_PUSH_TIMEOUT].u_obj);
    }
    if (kw[MM_PUSH_QUEUE_BYTES].u_obj != MP_OBJ_NULL) {
        o.queue_bytes = mm_get_u32(kw[MM_PUSH_QUEUE_BYTES].u_obj, "queue_bytes");
        if (o.queue_bytes < MM_PUSHER_MIN_QUEUE) {
            mp_raise_ValueError(MP_ERROR_TEXT("queue_bytes must be at least 65536"));
        }
    }
    canmv_rtsp_pusher *pusher = mm_pusher_enter(self);
    MM_RELEASE_GIL();
    int32_t rc = canmv_rtsp_pusher_init(pusher, url, url_len, &o);
    MM_ACQUIRE_GIL();
    mm_pusher_leave(self);
    return mp_obj_new_int(rc);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(mm_pusher_init_obj, 4, mm_pusher_init);

static mp_obj_t mm_pusher_deinit(mp_obj_t self_in) {
    mm_none_or_raise(mm_pusher_call(self_in, canmv_rtsp_pusher_deinit));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mm_pusher_deinit_obj, mm_pusher_deinit);

// The handshake: the only call that waits on the network (up to timeout=).
static mp_obj_t mm_pusher_open(mp_obj_t self_in) {
    return mp_obj_new_int(mm_pusher_call(self_in, canmv_rtsp_pusher_open));
}
static MP_DEFINE_CONST_FUN_OBJ_1(mm_pusher_open_obj, mm_pusher_open);

static mp_obj_t mm_pusher_close(mp_obj_t self_in) {
    mm_none_or_raise(mm_pusher_call(self_in, canmv_rtsp_pusher_close));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mm_pusher_close_obj, mm_pusher_close);

typedef int32_t (*mm_push_fn)(canmv_rtsp_pusher *, const uint8_t *, uintptr_t, uint64_t);

static int32_t mm_push_header_fn(canmv_rtsp_pusher *p, const uint8_t *data, uintptr_t size, uint64_t timestamp) {
    (void)timestamp;
    return canmv_rtsp_pusher_push_header(p, data, size);
}

// data, size (and timestamp): copied by the library before it returns.
static mp_obj_t mm_pusher_push(mp_obj_t self_in, mp_obj_t data_in, mp_obj_t size_in, uint64_t timestamp, mm_push_fn push) {
    mm_rtsp_pusher_obj_t *self = mm_pusher_self(self_in);
    mp_buffer_info_t data;
    mp_get_buffer_raise(data_in, &data, MP_BUFFER_READ);
    size_t size = mm_get_size(size_in, data.len);
    canmv_rtsp_pusher *pusher = mm_pusher_enter(self);
    MM_RELEASE_GIL();
    int32_t rc = push(pusher, (const uint8_t *)data.buf, size, timestamp);
    MM_ACQUIRE_GIL();
    mm_pusher_leave(self);
    return mp_obj_new_int(rc);
}

static mp_obj_t mm_pusher_pushvideoheader(mp_obj_t self_in, mp_obj_t data, mp_obj_t size) {
    return mm_pusher_push(self_in, data, size, 0, mm_push_header_fn);
}
static MP_DEFINE_CONST_FUN_OBJ_3(mm_pusher_pushvideoheader_obj, mm_pusher_pushvideoheader);

// key_frame: an int or bool, as CanMV takes it; a hint only (the data decides).
static void mm_get_key_frame(mp_obj_t o) {
    if (!mp_obj_is_int(o) && !mp_obj_is_bool(o)) {
        mm_raise_type("key_frame must be an int or bool");
    }
}

static mp_obj_t mm_pusher_pushvideodata(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    mm_get_key_frame(args[3]);
    uint64_t timestamp = mm_get_u64(args[4], "timestamp");
    return mm_pusher_push(args[0], args[1], args[2], timestamp, canmv_rtsp_pusher_push_video);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mm_pusher_pushvideodata_obj, 5, 5, mm_pusher_pushvideodata);

static mp_obj_t mm_pusher_pushaudiodata(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    uint64_t timestamp = mm_get_u64(args[3], "timestamp");
    return mm_pusher_push(args[0], args[1], args[2], timestamp, canmv_rtsp_pusher_push_audio);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mm_pusher_pushaudiodata_obj, 4, 4, mm_pusher_pushaudiodata);

// One pusher push, for mm_with_phys (as mm_server_send_t is for the server):
// a struct, as a function pointer may not travel as a void pointer.
typedef struct {
    canmv_rtsp_pusher *pusher;
    mm_push_fn push;
} mm_pusher_send_t;

#if defined(CANMV_K230)
static int32_t mm_pusher_push_phys(void *target, const uint8_t *data, size_t size, uint64_t timestamp) {
    mm_pusher_send_t *s = target;
    return s->push(s->pusher, data, size, timestamp);
}
#endif

// phy_addr, size, timestamp: an encoder pack by its physical address (K230 builds only).
static mp_obj_t mm_pusher_push_byphyaddr(mp_obj_t self_in, mp_obj_t phy_in, mp_obj_t size_in, mp_obj_t ts_in, mm_push_fn push) {
    mm_rtsp_pusher_obj_t *self = mm_pusher_self(self_in);
    uint64_t phy_addr = mm_get_u64(phy_in, "phy_addr");
    size_t size = mm_get_size(size_in, (size_t)UINT32_MAX);
    uint64_t timestamp = mm_get_u64(ts_in, "timestamp");
    #if defined(CANMV_K230)
    canmv_rtsp_pusher *pusher = mm_pusher_enter(self);
    mm_pusher_send_t target = { pusher, push };
    MM_RELEASE_GIL();
    int32_t rc = mm_with_phys(&target, phy_addr, size, timestamp, mm_pusher_push_phys);
    MM_ACQUIRE_GIL();
    mm_pusher_leave(self);
    return mp_obj_new_int(rc);
    #else
    (void)self;
    (void)phy_addr;
    (void)size;
    (void)timestamp;
    (void)push;
    mp_raise_OSError(MP_EOPNOTSUPP);
    #endif
}

static mp_obj_t mm_pusher_pushvideodata_byphyaddr(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    mm_get_key_frame(args[3]);
    return mm_pusher_push_byphyaddr(args[0], args[1], args[2], args[4], canmv_rtsp_pusher_push_video);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mm_pusher_pushvideodata_byphyaddr_obj, 5, 5, mm_pusher_pushvideodata_byphyaddr);

static mp_obj_t mm_pusher_pushaudiodata_byphyaddr(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mm_pusher_push_byphyaddr(args[0], args[1], args[2], args[3], canmv_rtsp_pusher_push_audio);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mm_pusher_pushaudiodata_byphyaddr_obj, 4, 4, mm_pusher_pushaudiodata_byphyaddr);

static mp_obj_t mm_pusher_needkeyframe(mp_obj_t self_in) {
    return mp_obj_new_bool(mm_pusher_call(self_in, canmv_rtsp_pusher_need_keyframe) > 0);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mm_pusher_needkeyframe_obj, mm_pusher_needkeyframe);

static mp_obj_t mm_pusher_getstats(mp_obj_t self_in) {
    mm_rtsp_pusher_obj_t *self = mm_pusher_self(self_in);
    canmv_rtsp_pusher_stats s;
    canmv_rtsp_pusher *pusher = mm_pusher_enter(self);
    MM_RELEASE_GIL();
    int32_t rc = canmv_rtsp_pusher_get_stats(pusher, &s);
    MM_ACQUIRE_GIL();
    mm_pusher_leave(self);
    if (rc < 0) {
        mp_raise_OSError(-rc);
    }
    static const qstr states[] = {
        MP_QSTR_idle, MP_QSTR_ready, MP_QSTR_connecting, MP_QSTR_recording, MP_QSTR_reconnecting,
    };
    qstr state = s.state >= 0 && (size_t)s.state < MP_ARRAY_SIZE(states) ? states[s.state] : MP_QSTR_idle;
    mp_obj_t dict = mp_obj_new_dict(6);
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_state), MP_OBJ_NEW_QSTR(state));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_frames_sent), mp_obj_new_int_from_ull(s.frames_sent));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_bytes_sent), mp_obj_new_int_from_ull(s.bytes_sent));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_frames_dropped), mp_obj_new_int_from_ull(s.frames_dropped));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_reconnects), mp_obj_new_int_from_ull(s.reconnects));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_last_error), mp_obj_new_int(s.last_error));
    return dict;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mm_pusher_getstats_obj, mm_pusher_getstats);

static mp_obj_t mm_rtsp_pusher_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    (void)type;
    (void)args;
    mp_arg_check_num(n_args, n_kw, 0, 0, false);
    return MP_OBJ_FROM_PTR(mm_pusher_new());
}

static const mp_rom_map_elem_t mm_rtsp_pusher_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&mm_pusher_del_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtsppusher_create), MP_ROM_PTR(&mm_pusher_create_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtsppusher_destroy), MP_ROM_PTR(&mm_pusher_destroy_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtsppusher_init), MP_ROM_PTR(&mm_pusher_init_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtsppusher_deinit), MP_ROM_PTR(&mm_pusher_deinit_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtsppusher_open), MP_ROM_PTR(&mm_pusher_open_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtsppusher_close), MP_ROM_PTR(&mm_pusher_close_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtsppusher_pushvideoheader), MP_ROM_PTR(&mm_pusher_pushvideoheader_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtsppusher_pushvideodata), MP_ROM_PTR(&mm_pusher_pushvideodata_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtsppusher_pushaudiodata), MP_ROM_PTR(&mm_pusher_pushaudiodata_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtsppusher_pushvideodata_byphyaddr), MP_ROM_PTR(&mm_pusher_pushvideodata_byphyaddr_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtsppusher_pushaudiodata_byphyaddr), MP_ROM_PTR(&mm_pusher_pushaudiodata_byphyaddr_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtsppusher_needkeyframe), MP_ROM_PTR(&mm_pusher_needkeyframe_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtsppusher_getstats), MP_ROM_PTR(&mm_pusher_getstats_obj) },
};
static MP_DEFINE_CONST_DICT(mm_rtsp_pusher_locals_dict, mm_rtsp_pusher_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    mm_rtsp_pusher_type,
    MP_QSTR_rtsp_pusher,
    MP_TYPE_FLAG_NONE,
    make_new, mm_rtsp_pusher_make_new,
    locals_dict, &mm_rtsp_pusher_locals_dict
    );

/******************************************************************************/
// multi_media_type: the codec constants, as class attributes.

static const mp_rom_map_elem_t mm_media_type_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_media_h264), MP_ROM_INT(CANMV_RTSP_VIDEO_H264) },
    { MP_ROM_QSTR(MP_QSTR_media_h265), MP_ROM_INT(CANMV_RTSP_VIDEO_H265) },
    { MP_ROM_QSTR(MP_QSTR_media_mjpeg), MP_ROM_INT(CANMV_RTSP_VIDEO_MJPEG) },
};
static MP_DEFINE_CONST_DICT(mm_media_type_locals_dict, mm_media_type_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    mm_media_type_type,
    MP_QSTR_multi_media_type,
    MP_TYPE_FLAG_NONE,
    locals_dict, &mm_media_type_locals_dict
    );

/******************************************************************************/
// The module.

static const mp_rom_map_elem_t mm_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_multimedia) },
    #if MICROPY_MODULE_BUILTIN_INIT
    { MP_ROM_QSTR(MP_QSTR___init__), MP_ROM_PTR(&mm_module_builtin_init_obj) },
    #endif
    { MP_ROM_QSTR(MP_QSTR_multi_media_type), MP_ROM_PTR(&mm_media_type_type) },
    { MP_ROM_QSTR(MP_QSTR_rtsp_server), MP_ROM_PTR(&mm_rtsp_server_type) },
    { MP_ROM_QSTR(MP_QSTR_rtsp_pusher), MP_ROM_PTR(&mm_rtsp_pusher_type) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_create), MP_ROM_PTR(&mm_module_create_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_destroy), MP_ROM_PTR(&mm_module_destroy_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_init), MP_ROM_PTR(&mm_module_init_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_deinit), MP_ROM_PTR(&mm_module_deinit_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_createsession), MP_ROM_PTR(&mm_module_createsession_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_destroysession), MP_ROM_PTR(&mm_module_destroysession_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_getrtspurl), MP_ROM_PTR(&mm_module_getrtspurl_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_start), MP_ROM_PTR(&mm_module_start_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_stop), MP_ROM_PTR(&mm_module_stop_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_sendvideodata), MP_ROM_PTR(&mm_module_sendvideodata_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_sendaudiodata), MP_ROM_PTR(&mm_module_sendaudiodata_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_sendvideodata_byphyaddr), MP_ROM_PTR(&mm_module_sendvideodata_byphyaddr_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_sendaudiodata_byphyaddr), MP_ROM_PTR(&mm_module_sendaudiodata_byphyaddr_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_getstats), MP_ROM_PTR(&mm_module_getstats_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_recvaudiodata), MP_ROM_PTR(&mm_module_recvaudiodata_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_needkeyframe), MP_ROM_PTR(&mm_module_needkeyframe_obj) },
    { MP_ROM_QSTR(MP_QSTR_rtspserver_test), MP_ROM_PTR(&mm_test_obj) },
};
static MP_DEFINE_CONST_DICT(mm_module_globals, mm_module_globals_table);

const mp_obj_module_t mp_module_multimedia = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&mm_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_multimedia, mp_module_multimedia);
