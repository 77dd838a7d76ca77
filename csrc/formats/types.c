/* The type table: GGML type id -> traits. A new format = its file here + one line below. */
#include "clavis.h"

extern const clv_type_traits clv_traits_f32, clv_traits_f16, clv_traits_bf16, clv_traits_q8_0,
    clv_traits_q4_0;

static const clv_type_traits *const TYPES[CLV_TYPE_COUNT] = {
    [CLV_TYPE_F32] = &clv_traits_f32,
    [CLV_TYPE_F16] = &clv_traits_f16,
    [CLV_TYPE_BF16] = &clv_traits_bf16,
    [CLV_TYPE_Q8_0] = &clv_traits_q8_0,
    [CLV_TYPE_Q4_0] = &clv_traits_q4_0,
};

const clv_type_traits *clv_type_get(int type) {
    return (type >= 0 && type < CLV_TYPE_COUNT) ? TYPES[type] : NULL;
}

size_t clv_row_size(int type, int64_t n) {
    const clv_type_traits *t = clv_type_get(type);
    if (!t || n < 0 || n % t->blck_size) return 0;
    return (size_t)(n / t->blck_size) * t->type_size;
}
