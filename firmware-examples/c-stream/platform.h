/* What main.c needs from the platform: text output and the entry point. */
#ifndef PLATFORM_H
#define PLATFORM_H
#include <stdint.h>
#include <string.h>

void out_str(const char *s);
int app_main(void);

static inline uint32_t bits_of(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static inline void out_hex32(uint32_t v) {
    char b[9];
    for (int i = 7; i >= 0; i--, v >>= 4) b[i] = "0123456789abcdef"[v & 15];
    b[8] = 0;
    out_str(b);
}

static inline void out_u32(uint32_t v) {
    char b[11];
    int i = 10;
    b[i] = 0;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out_str(b + i);
}
#endif
