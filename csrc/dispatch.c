/* Run-time dispatch: for every op, pick the best variant the enabled CPU features allow. */
#include "clavis.h"
#include "ops_list.h"

#include <string.h>

#define DECLARE(NAME)                                  \
    extern const clv_variant clv_##NAME##_variants[];  \
    const void *clv_##NAME##_impl;                     \
    static const char *clv_##NAME##_chosen;
CLV_OPS(DECLARE)
#undef DECLARE

static const clv_op OPS[] = {
#define ENTRY(NAME) {#NAME, clv_##NAME##_variants, &clv_##NAME##_impl, &clv_##NAME##_chosen},
    CLV_OPS(ENTRY)
#undef ENTRY
};
#define N_OPS ((int)(sizeof(OPS) / sizeof(OPS[0])))

int clv_variant_supported(const clv_variant *v) {
    return (v->features & ~clv_cpu_enabled()) == 0;
}

void clv_dispatch_init(void) {
    for (int i = 0; i < N_OPS; i++) {
        for (const clv_variant *v = OPS[i].variants; v->name; v++) {
            if (clv_variant_supported(v)) {
                *OPS[i].slot = v->fn;
                *OPS[i].chosen = v->name;
                break;
            }
        }
    }
}

int clv_op_count(void) { return N_OPS; }
const clv_op *clv_op_at(int i) { return (i >= 0 && i < N_OPS) ? &OPS[i] : NULL; }

const clv_op *clv_op_find(const char *op) {
    for (int i = 0; i < N_OPS; i++)
        if (!strcmp(OPS[i].op, op)) return &OPS[i];
    return NULL;
}

int clv_op_force(const char *op, const char *variant) {
    const clv_op *o = clv_op_find(op);
    if (!o) return -1;
    for (const clv_variant *v = o->variants; v->name; v++) {
        if (!strcmp(v->name, variant)) {
            if (!clv_variant_supported(v)) return -1;
            *o->slot = v->fn;
            *o->chosen = v->name;
            return 0;
        }
    }
    return -1;
}
