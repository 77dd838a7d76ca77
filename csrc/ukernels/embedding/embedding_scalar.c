/* embedding: dequantize selected rows with the format's to_float (csrc/formats). The format
 * converters are the work here, so there is one portable variant. */
#include "../ops_variants.h"

static void embedding_scalar(const void *data, int type, int64_t n_cols, const int32_t *ids,
                             int64_t n_ids, float *out) {
    const clv_type_traits *tt = clv_type_get(type);
    size_t row = clv_row_size(type, n_cols);
    for (int64_t i = 0; i < n_ids; i++)
        tt->to_float((const char *)data + (size_t)ids[i] * row, out + i * n_cols, n_cols);
}

const clv_variant clv_embedding_variants[] = {
    {"scalar", 0, (const void *)embedding_scalar},
    {0, 0, 0},
};
