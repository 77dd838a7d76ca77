/* The list of ops with run-time dispatch. Each op NAME provides, in csrc/ukernels/NAME/:
 *   const clv_variant clv_NAME_variants[];   best first, scalar last, {NULL} terminated
 * and gets from dispatch.c:
 *   const void *clv_NAME_impl;               the chosen variant's fn (cast to the op's type)
 * Adding an op = its folder + one line here. Keep the list sorted. */
#define CLV_OPS(X) \
    X(placeholder_add_f32)
