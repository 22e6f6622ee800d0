/* libanchor public API: what every module shares.
 *
 *   ANC_API        marks the functions libanchor.so exports (the library is
 *                  built with -fvisibility=hidden; nothing else is exported)
 *   anc_status     the result of every fallible call (ANC_OK = 0)
 *   anc_error      a caller-owned record a failed call fills with a message
 *                  naming the file, line or offset and what was expected
 *   anc_dtype      element types of saved tensors
 *   anc_progress_fn the callback long calls report progress through
 *
 * Conventions of the whole API: the library never prints and never exits;
 * an anc_error pointer may be NULL where the caller does not want the
 * message; objects returned through `**out` belong to the caller and are
 * released with the matching *_free / *_close function (NULL is always a
 * no-op there); other memory returned through `**` (strings, id arrays) is
 * malloc'd and released with free(). Unless a function says otherwise one
 * object must not be used by two threads at once; distinct objects are
 * independent (the library holds no global mutable state). */
#ifndef ANCHOR_PUBLIC_COMMON_H
#define ANCHOR_PUBLIC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifndef ANC_API
#if defined(__GNUC__) || defined(__clang__)
#define ANC_API __attribute__((visibility("default")))
#else
#define ANC_API
#endif
#endif

#ifdef __cplusplus
#define ANC_EXTERN_C_BEGIN extern "C" {
#define ANC_EXTERN_C_END }
#else
#define ANC_EXTERN_C_BEGIN
#define ANC_EXTERN_C_END
#endif

ANC_EXTERN_C_BEGIN

typedef enum anc_status {
    ANC_OK = 0,
    ANC_ERR_IO,          /* open/read/write/mmap failed */
    ANC_ERR_FORMAT,      /* malformed input file or row */
    ANC_ERR_NOMEM,       /* allocation failed or size overflow */
    ANC_ERR_INVALID,     /* bad argument or inconsistent request */
    ANC_ERR_UNSUPPORTED, /* valid input that anchor does not handle (yet) */
    ANC_ERR_NUMERIC,     /* NaN/Inf where a finite value is required */
    ANC_ERR_INTERNAL
} anc_status;

#define ANC_ERROR_MESSAGE_MAX 1024

/* Filled by a failed call: code is its return value, message a
 * NUL-terminated sentence (truncated to fit). Owned by the caller, usually
 * on the stack; needs no release. */
typedef struct anc_error {
    anc_status code;
    char message[ANC_ERROR_MESSAGE_MAX];
} anc_error;

/* Resets err (may be NULL) to ANC_OK with an empty message. */
ANC_API void anc_error_clear(anc_error *err);

/* A short stable name for a status ("ok", "io", "format", ...), static
 * storage; never NULL (an unknown code has a name too). */
ANC_API const char *anc_status_name(anc_status code);

typedef enum anc_dtype {
    ANC_DT_INVALID = 0,
    ANC_DT_F32,
    ANC_DT_F16,
    ANC_DT_BF16,
    ANC_DT_F64,
    ANC_DT_I64,
    ANC_DT_I32,
    ANC_DT_I16,
    ANC_DT_I8,
    ANC_DT_U8,
    ANC_DT_BOOL
} anc_dtype;

/* The safetensors spelling of dt ("F32", "BF16", ...), static storage;
 * never NULL ("INVALID" for an unknown value). */
ANC_API const char *anc_dtype_name(anc_dtype dt);

/* Parses a user-facing spelling: f32|float32|fp32, f16|float16|fp16,
 * bf16|bfloat16. ANC_DT_INVALID when name is unknown or NULL. */
ANC_API anc_dtype anc_dtype_from_user(const char *name);

/* Progress of a long call: done of total units finished, tokens processed
 * so far (0 if unknown). Called on the caller's thread; ctx is the pointer
 * the caller passed beside the callback. */
typedef void (*anc_progress_fn)(void *ctx, size_t done, size_t total, int64_t tokens);

ANC_EXTERN_C_END

#endif
