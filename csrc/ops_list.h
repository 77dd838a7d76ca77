/* The list of ops with run-time dispatch. Each op NAME provides, in csrc/ukernels/NAME/:
 *   const clv_variant clv_NAME_variants[];   best first, scalar last, {NULL} terminated
 * and gets from dispatch.c:
 *   const void *clv_NAME_impl;               the chosen variant's fn (cast to the op's type)
 * Adding an op = its folder + one line here. Keep the list sorted. */
#define CLV_OPS(X) \
    X(add) \
    X(attention) \
    X(conv1d_gelu) \
    X(embedding) \
    X(gelu) \
    X(layer_norm) \
    X(matmul_bf16) \
    X(matmul_f16) \
    X(matmul_f32) \
    X(matmul_q4_0) \
    X(matmul_q8_0) \
    X(rms_norm) \
    X(rope) \
    X(scale) \
    X(silu_mul) \
    X(softmax) \
    X(to_f16)
