/* F32: plain little-endian floats (GGML type 0). */
#include "clavis.h"
#include <string.h>

static void f32_to_float(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }
static void f32_from_float(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }

const clv_type_traits clv_traits_f32 = {"f32", 1, 4, f32_to_float, f32_from_float};
