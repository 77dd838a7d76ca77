/* Temporary op proving the dispatch/binding path end to end; removed once real ops land. */
#include "clavis.h"
typedef void (*add_fn)(const float *a, const float *b, float *y, int64_t n);
static void add_scalar(const float *a, const float *b, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}
const clv_variant clv_placeholder_add_f32_variants[] = {
    {"scalar", 0, (const void *)add_scalar},
    {0, 0, 0},
};
