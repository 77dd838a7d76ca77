/* CPU feature detection: CPUID + XGETBV on x86, HWCAP on Arm; CLAVIS_DISABLE_CPU_FEATURES. */
#include "clavis.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static uint32_t detect(void) {
    unsigned a, b, c, d;
    uint32_t f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return 0;
    uint64_t xcr0 = xgetbv0();
    int ymm_ok = (xcr0 & 0x6) == 0x6;            /* SSE + AVX state */
    int zmm_ok = ymm_ok && (xcr0 & 0xe0) == 0xe0; /* opmask + ZMM_Hi256 + Hi16_ZMM */
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1;
    int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    int avx512vnni = (c >> 11) & 1;
    unsigned a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    int avxvnni = (a1 >> 4) & 1, avx512bf16 = (a1 >> 5) & 1;
    if (ymm_ok && avx2 && fma && f16c) f |= CLV_CPU_AVX2;
    if (zmm_ok && (f & CLV_CPU_AVX2) && avx512f && avx512dq && avx512bw && avx512vl) {
        f |= CLV_CPU_AVX512;
        if (avx512vnni) f |= CLV_CPU_AVX512VNNI;
        if (avx512bf16) f |= CLV_CPU_AVX512BF16;
    }
    if ((f & CLV_CPU_AVX2) && avxvnni) f |= CLV_CPU_AVXVNNI;
    return f;
}
#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1 << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1 << 13)
#endif
static uint32_t detect(void) {
    unsigned long h = getauxval(AT_HWCAP), h2 = getauxval(AT_HWCAP2);
    uint32_t f = 0;
    if (h & HWCAP_ASIMD) f |= CLV_CPU_NEON;
    if (h & HWCAP_ASIMDHP) f |= CLV_CPU_FP16;
    if ((f & CLV_CPU_NEON) && (h & HWCAP_ASIMDDP)) f |= CLV_CPU_DOTPROD;
    if ((f & CLV_CPU_DOTPROD) && (h2 & HWCAP2_I8MM)) f |= CLV_CPU_I8MM;
    return f;
}
#else
static uint32_t detect(void) { return 0; }
#endif

static const struct { uint32_t bit; const char *name; uint32_t implies_off; } NAMES[] = {
    /* disabling a feature also disables everything that builds on it */
    {CLV_CPU_AVX2, "avx2", CLV_CPU_AVX2 | CLV_CPU_AVX512 | CLV_CPU_AVX512VNNI | CLV_CPU_AVX512BF16 | CLV_CPU_AVXVNNI},
    {CLV_CPU_AVX512, "avx512", CLV_CPU_AVX512 | CLV_CPU_AVX512VNNI | CLV_CPU_AVX512BF16},
    {CLV_CPU_AVX512VNNI, "avx512vnni", CLV_CPU_AVX512VNNI},
    {CLV_CPU_AVX512BF16, "avx512bf16", CLV_CPU_AVX512BF16},
    {CLV_CPU_AVXVNNI, "avxvnni", CLV_CPU_AVXVNNI},
    {CLV_CPU_NEON, "neon", CLV_CPU_NEON | CLV_CPU_DOTPROD | CLV_CPU_I8MM | CLV_CPU_FP16},
    {CLV_CPU_DOTPROD, "dotprod", CLV_CPU_DOTPROD | CLV_CPU_I8MM},
    {CLV_CPU_I8MM, "i8mm", CLV_CPU_I8MM},
    {CLV_CPU_FP16, "fp16", CLV_CPU_FP16},
};
#define N_NAMES (sizeof(NAMES) / sizeof(NAMES[0]))

const char *clv_cpu_feature_name(uint32_t bit) {
    for (size_t i = 0; i < N_NAMES; i++)
        if (NAMES[i].bit == bit) return NAMES[i].name;
    return NULL;
}

static uint32_t disabled_mask(void) {
    const char *env = getenv("CLAVIS_DISABLE_CPU_FEATURES");
    if (!env || !*env) return 0;
    uint32_t off = 0;
    char tok[32];
    const char *p = env;
    while (*p) {
        size_t n = 0;
        while (*p && *p != ',' && *p != ' ') {
            if (n < sizeof(tok) - 1) tok[n++] = (char)tolower((unsigned char)*p);
            p++;
        }
        tok[n] = 0;
        while (*p == ',' || *p == ' ') p++;
        if (!n) continue;
        if (!strcmp(tok, "all")) return 0xffffffffu;
        for (size_t i = 0; i < N_NAMES; i++)
            if (!strcmp(tok, NAMES[i].name)) off |= NAMES[i].implies_off;
    }
    return off;
}

static uint32_t g_detected, g_enabled;
static int g_init;

static void init(void) {
    if (g_init) return;
    g_detected = detect();
    g_enabled = g_detected & ~disabled_mask();
    g_init = 1;
}

/* The CPU's default for clv_decode_prefetch (see clavis.h). */
static int prefetch_default(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    int amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u;   /* "AuthenticAMD" */
    if (!amd || !__get_cpuid(1, &a, &b, &c, &d)) return 0;
    unsigned family = (a >> 8) & 0xf;
    if (family == 0xf) family += (a >> 20) & 0xff;
    return family >= 0x1a ? 6144 : 0;
#else
    return 0;
#endif
}

static int g_prefetch = -1;

int clv_decode_prefetch(void) {
    int v = __atomic_load_n(&g_prefetch, __ATOMIC_RELAXED);
    if (v >= 0) return v;
    const char *env = getenv("CLAVIS_DECODE_PREFETCH");
    char *end = NULL;
    long e = env && *env ? strtol(env, &end, 10) : -1;
    int ok = env && *env && end && !*end && e >= 0 && e <= (1 << 20);
    if (env && *env && !ok)
        fprintf(stderr, "clavis: CLAVIS_DECODE_PREFETCH=%s ignored: want bytes in 0..1048576\n", env);
    v = ok ? (int)e : prefetch_default();
    __atomic_store_n(&g_prefetch, v, __ATOMIC_RELAXED);
    return v;
}

void clv_set_decode_prefetch(int bytes) {
    __atomic_store_n(&g_prefetch, bytes < 0 ? -1 : bytes, __ATOMIC_RELAXED);
}

uint32_t clv_cpu_detected(void) { init(); return g_detected; }
uint32_t clv_cpu_enabled(void) { init(); return g_enabled; }

int clv_cpu_physical_cores(void) {
#if defined(__linux__)
    /* count distinct (physical id, core id) pairs in /proc/cpuinfo; fall back to online CPUs */
    FILE *fp = fopen("/proc/cpuinfo", "r");
    int pairs[1024][2], n = 0, phys = 0, core = -1;
    if (fp) {
        char line[512];
        while (fgets(line, sizeof line, fp)) {
            if (!strncmp(line, "physical id", 11)) phys = atoi(strchr(line, ':') + 1);
            else if (!strncmp(line, "core id", 7)) {
                core = atoi(strchr(line, ':') + 1);
                int seen = 0;
                for (int i = 0; i < n; i++) if (pairs[i][0] == phys && pairs[i][1] == core) seen = 1;
                if (!seen && n < 1024) { pairs[n][0] = phys; pairs[n][1] = core; n++; }
            }
        }
        fclose(fp);
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0 && n <= online) return n;
    return online > 0 ? (int)online : 1;
#else
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
#endif
}
