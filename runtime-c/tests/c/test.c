/*
 * Host test of the C API (runtime-c/include/ddaebm.h), built and run by
 * runtime-c/tests/c_api.rs:
 *
 *   test DIR    DIR holds model.bin (calibrated, window contract 2 x 2),
 *               plain.bin (same weights, no calibration, no contract),
 *               wide.bin (D = 260) and load_cases.txt ("STATUS_NAME file"
 *               per line: a model file that fails to load with that status)
 *
 * Calls every function of the header, checks every status it returns and
 * that every status code was returned at least once, and prints the values
 * the Rust side recomputes as "cmp ..." lines (f32 bits in hex). Exit status
 * 0 when every check passed.
 */
#include "ddaebm.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failures;
static int seen[DDAEBM_STATUS_COUNT];

static void check_status(ddaebm_status_t got, ddaebm_status_t want, const char *call, int line) {
    checks++;
    if (got >= 0 && got < DDAEBM_STATUS_COUNT) {
        seen[got] = 1;
    }
    if (got != want) {
        failures++;
        printf("FAIL test.c:%d: %s returned %s (%s), expected %s\n", line, call, ddaebm_status_name(got),
               ddaebm_status_message(got), ddaebm_status_name(want));
    }
}
#define EXPECT(call, want) check_status((call), (want), #call, __LINE__)
#define OK(call) check_status((call), DDAEBM_OK, #call, __LINE__)

static void check_true(int cond, const char *what, int line) {
    checks++;
    if (!cond) {
        failures++;
        printf("FAIL test.c:%d: %s\n", line, what);
    }
}
#define CHECK(cond) check_true((cond) != 0, #cond, __LINE__)

static uint32_t bits(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static uint8_t *read_file(const char *dir, const char *name, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("FAIL cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    /* 8-aligned, and never NULL for an empty file. */
    uint8_t *data = malloc((size_t)n + 8);
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n) {
        printf("FAIL cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return data;
}

/* Status names: each code's name is its identifier. */
static void test_status_strings(void) {
#define NAME(code) CHECK(strcmp(ddaebm_status_name(code), #code) == 0 && strlen(ddaebm_status_message(code)) > 5)
    NAME(DDAEBM_OK);
    NAME(DDAEBM_ERR_NULL_POINTER);
    NAME(DDAEBM_ERR_MISALIGNED);
    NAME(DDAEBM_ERR_BAD_LENGTH);
    NAME(DDAEBM_ERR_OVERLAP);
    NAME(DDAEBM_ERR_NOT_INITIALISED);
    NAME(DDAEBM_ERR_TOO_SHORT);
    NAME(DDAEBM_ERR_HEADER_OUT_OF_BOUNDS);
    NAME(DDAEBM_ERR_JSON);
    NAME(DDAEBM_ERR_UNSUPPORTED_JSON);
    NAME(DDAEBM_ERR_UNSUPPORTED_ESCAPE);
    NAME(DDAEBM_ERR_DUPLICATE_KEY);
    NAME(DDAEBM_ERR_NOT_DDAEBM_MODEL);
    NAME(DDAEBM_ERR_UNSUPPORTED_VERSION);
    NAME(DDAEBM_ERR_CHECKSUM_MISMATCH);
    NAME(DDAEBM_ERR_MISSING_METADATA);
    NAME(DDAEBM_ERR_BAD_METADATA);
    NAME(DDAEBM_ERR_METADATA_OUT_OF_RANGE);
    NAME(DDAEBM_ERR_TOO_MANY_LAYERS);
    NAME(DDAEBM_ERR_MISSING_TENSOR);
    NAME(DDAEBM_ERR_UNEXPECTED_TENSOR);
    NAME(DDAEBM_ERR_BAD_TENSOR_ENTRY);
    NAME(DDAEBM_ERR_UNKNOWN_DTYPE);
    NAME(DDAEBM_ERR_WRONG_DTYPE);
    NAME(DDAEBM_ERR_INVALID_OFFSETS);
    NAME(DDAEBM_ERR_TENSOR_OUT_OF_BOUNDS);
    NAME(DDAEBM_ERR_TENSOR_SIZE_MISMATCH);
    NAME(DDAEBM_ERR_SHAPE_MISMATCH);
    NAME(DDAEBM_ERR_NON_FINITE_PARAMETER);
    NAME(DDAEBM_ERR_INVALID_PARAMETER);
    NAME(DDAEBM_ERR_DIMENSION_MISMATCH);
    NAME(DDAEBM_ERR_STEP_OUT_OF_RANGE);
    NAME(DDAEBM_ERR_SCRATCH_TOO_SMALL);
    NAME(DDAEBM_ERR_NON_FINITE_OUTPUT);
    NAME(DDAEBM_ERR_NOT_CALIBRATED);
    NAME(DDAEBM_ERR_INVALID_WINDOW_SHAPE);
    NAME(DDAEBM_ERR_WINDOW_MISMATCH);
    NAME(DDAEBM_ERR_WINDOW_TOO_LARGE);
    NAME(DDAEBM_ERR_WINDOW_NOT_FULL);
    NAME(DDAEBM_ERR_NO_WINDOW_CONTRACT);
    NAME(DDAEBM_ERR_INVALID_CALIBRATION_LEVEL);
    NAME(DDAEBM_ERR_FIELD_CALIBRATION_WINDOWS);
    NAME(DDAEBM_ERR_FIELD_CALIBRATION_INCOMPLETE);
#undef NAME
    CHECK(DDAEBM_ERR_FIELD_CALIBRATION_INCOMPLETE + 1 == DDAEBM_STATUS_COUNT);
    CHECK(strcmp(ddaebm_status_message(-1), "unknown status code") == 0);
    CHECK(strcmp(ddaebm_status_message(DDAEBM_STATUS_COUNT), "unknown status code") == 0);
    CHECK(strcmp(ddaebm_status_name(DDAEBM_STATUS_COUNT), "DDAEBM_UNKNOWN") == 0);
}

static ddaebm_status_t status_named(const char *name) {
    for (int code = 0; code < DDAEBM_STATUS_COUNT; code++) {
        if (strcmp(ddaebm_status_name(code), name) == 0) {
            return (ddaebm_status_t)code;
        }
    }
    printf("FAIL unknown status name %s\n", name);
    exit(2);
}

/* Every load error from load_cases.txt; a failed load leaves the model not initialised. */
static void test_load_errors(const char *dir) {
    static ddaebm_model_t model;
    ddaebm_model_info_t info;
    char path[4096], name[128], file[256];
    snprintf(path, sizeof path, "%s/load_cases.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("FAIL cannot open %s\n", path);
        exit(2);
    }
    int cases = 0;
    while (fscanf(f, "%127s %255s", name, file) == 2) {
        size_t len;
        uint8_t *bytes = read_file(dir, file, &len);
        check_status(ddaebm_model_load(&model, bytes, len), status_named(name), file, __LINE__);
        EXPECT(ddaebm_model_info(&model, &info), DDAEBM_ERR_NOT_INITIALISED);
        free(bytes);
        cases++;
    }
    fclose(f);
    CHECK(cases >= 24);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    size_t model_len, plain_len, wide_len;
    uint8_t *model_bytes = read_file(dir, "model.bin", &model_len);
    uint8_t *plain_bytes = read_file(dir, "plain.bin", &plain_len);
    uint8_t *wide_bytes = read_file(dir, "wide.bin", &wide_len);

    test_status_strings();
    test_load_errors(dir);

    /* ---- loading: argument errors, then the three models */
    static ddaebm_model_t model, plain, wide;
    static _Alignas(8) unsigned char raw[sizeof(ddaebm_model_t) + 8];
    ddaebm_model_t *misaligned = (ddaebm_model_t *)(void *)(raw + 4);
    EXPECT(ddaebm_model_load(NULL, model_bytes, model_len), DDAEBM_ERR_NULL_POINTER);
    EXPECT(ddaebm_model_load(misaligned, model_bytes, model_len), DDAEBM_ERR_MISALIGNED);
    EXPECT(ddaebm_model_load(&model, NULL, model_len), DDAEBM_ERR_NULL_POINTER);
    EXPECT(ddaebm_model_load(&model, NULL, 0), DDAEBM_ERR_TOO_SHORT);
    EXPECT(ddaebm_model_load(&model, model_bytes, SIZE_MAX), DDAEBM_ERR_BAD_LENGTH);
    EXPECT(ddaebm_model_load(&model, (const uint8_t *)&model, sizeof model), DDAEBM_ERR_OVERLAP);
    OK(ddaebm_model_load(&model, model_bytes, model_len));
    OK(ddaebm_model_load(&plain, plain_bytes, plain_len));
    OK(ddaebm_model_load(&wide, wide_bytes, wide_len));

    /* ---- info */
    ddaebm_model_info_t info, pinfo;
    EXPECT(ddaebm_model_info(&model, NULL), DDAEBM_ERR_NULL_POINTER);
    EXPECT(ddaebm_model_info(NULL, &info), DDAEBM_ERR_NULL_POINTER);
    OK(ddaebm_model_info(&model, &info));
    OK(ddaebm_model_info(&plain, &pinfo));
    CHECK(info.data_dim == 4 && info.nz == 2 && info.steps == 3 && info.max_width == 8);
    CHECK(info.scratch_len == ddaebm_scratch_len_for(4, 2, 8));
    CHECK(info.scratch_len == DDAEBM_SCRATCH_LEN_FOR(4, 2, 8));
    CHECK(ddaebm_scratch_len_for(2, 2, 300) == DDAEBM_SCRATCH_LEN_FOR(2, 2, 300));
    CHECK(ddaebm_scratch_len_for(40, 8, 16) == DDAEBM_SCRATCH_LEN_FOR(40, 8, 16));
    CHECK(info.weight_dtype == DDAEBM_WEIGHTS_F32 && info.score_kind == DDAEBM_SCORE_ENERGY);
    CHECK(info.calibrated && !isnan(info.threshold));
    CHECK(info.window == 2 && info.stride == 1 && info.channels == 2);
    CHECK(!pinfo.calibrated && isnan(pinfo.threshold) && pinfo.window == 0 && pinfo.channels == 0);

    /* ---- scoring one reading */
    static float scratch[DDAEBM_SCRATCH_LEN_FOR(4, 2, 8)];
    const size_t sl = sizeof scratch / sizeof scratch[0];
    static _Alignas(8) float xbuf[5] = {0.5f, -1.25f, 2.0f, 0.75f, 0.0f};
    const float *x = xbuf;
    float score, energy, p;
    EXPECT(ddaebm_anomaly_score(&model, x, 3, scratch, sl, &score), DDAEBM_ERR_DIMENSION_MISMATCH);
    EXPECT(ddaebm_anomaly_score(&model, x, 4, scratch, 5, &score), DDAEBM_ERR_SCRATCH_TOO_SMALL);
    EXPECT(ddaebm_anomaly_score(&model, x, 4, scratch, sl, NULL), DDAEBM_ERR_NULL_POINTER);
    EXPECT(ddaebm_anomaly_score(&model, (const float *)(const void *)((const char *)xbuf + 2), 4, scratch, sl,
                                &score),
           DDAEBM_ERR_MISALIGNED);
    EXPECT(ddaebm_anomaly_score(&model, scratch, 4, scratch, sl, &score), DDAEBM_ERR_OVERLAP);
    EXPECT(ddaebm_anomaly_score(&model, x, 4, scratch, sl, &scratch[3]), DDAEBM_ERR_OVERLAP);
    const float nan_x[4] = {NAN, 0.0f, 0.0f, 0.0f};
    EXPECT(ddaebm_anomaly_score(&model, nan_x, 4, scratch, sl, &score), DDAEBM_ERR_NON_FINITE_OUTPUT);
    static ddaebm_model_t never_loaded; /* zeroed: not initialised */
    EXPECT(ddaebm_anomaly_score(&never_loaded, x, 4, scratch, sl, &score), DDAEBM_ERR_NOT_INITIALISED);
    OK(ddaebm_anomaly_score(&model, x, 4, scratch, sl, &score));
    printf("cmp score %08x\n", bits(score));

    EXPECT(ddaebm_energy(&model, x, 4, 3, scratch, sl, &energy), DDAEBM_ERR_STEP_OUT_OF_RANGE);
    EXPECT(ddaebm_energy(&model, x, 4, 1, NULL, 0, &energy), DDAEBM_ERR_SCRATCH_TOO_SMALL);
    OK(ddaebm_energy(&model, x, 4, 1, scratch, sl, &energy));
    printf("cmp energy1 %08x\n", bits(energy));

    ddaebm_verdict_t v;
    EXPECT(ddaebm_verdict(&plain, x, 4, scratch, sl, &v), DDAEBM_ERR_NOT_CALIBRATED);
    EXPECT(ddaebm_verdict(&model, x, 4, scratch, sl, NULL), DDAEBM_ERR_NULL_POINTER);
    OK(ddaebm_verdict(&model, x, 4, scratch, sl, &v));
    CHECK(bits(v.score) == bits(score) && v.is_anomaly == (v.score > info.threshold));
    printf("cmp verdict %08x %08x %d\n", bits(v.score), bits(v.tail_probability), v.is_anomaly ? 1 : 0);

    EXPECT(ddaebm_tail_probability(&plain, 0.25f, &p), DDAEBM_ERR_NOT_CALIBRATED);
    EXPECT(ddaebm_tail_probability(&model, NAN, &p), DDAEBM_ERR_NON_FINITE_OUTPUT);
    EXPECT(ddaebm_tail_probability(&model, 0.25f, NULL), DDAEBM_ERR_NULL_POINTER);
    OK(ddaebm_tail_probability(&model, 0.25f, &p));
    CHECK(p >= 0.0f && p <= 1.0f);
    printf("cmp tail %08x\n", bits(p));

    /* ---- sampling */
    static ddaebm_rng_t rng, zero_rng;
    float s[4];
    EXPECT(ddaebm_rng_init(NULL, 7), DDAEBM_ERR_NULL_POINTER);
    EXPECT(ddaebm_sample(&model, &zero_rng, s, 4, scratch, sl), DDAEBM_ERR_NOT_INITIALISED);
    OK(ddaebm_rng_init(&rng, 7));
    EXPECT(ddaebm_sample(&model, &rng, s, 3, scratch, sl), DDAEBM_ERR_DIMENSION_MISMATCH);
    EXPECT(ddaebm_sample(&model, &rng, scratch, 4, scratch, sl), DDAEBM_ERR_OVERLAP);
    for (int k = 0; k < 2; k++) {
        OK(ddaebm_sample(&model, &rng, s, 4, scratch, sl));
        printf("cmp sample %d %08x %08x %08x %08x\n", k, bits(s[0]), bits(s[1]), bits(s[2]), bits(s[3]));
    }

    /* ---- window scorer */
    static ddaebm_window_t win, win3, zero_win;
    float sample[2];
    bool due = false, scored = false;
    EXPECT(ddaebm_window_init(&win, &model, 0, 1, 2), DDAEBM_ERR_INVALID_WINDOW_SHAPE);
    EXPECT(ddaebm_window_push(&win, sample, 2, &due), DDAEBM_ERR_NOT_INITIALISED); /* the failed init */
    EXPECT(ddaebm_window_init(&win, &model, 2, 0, 2), DDAEBM_ERR_INVALID_WINDOW_SHAPE);
    EXPECT(ddaebm_window_init(&win, &model, 3, 1, 2), DDAEBM_ERR_WINDOW_MISMATCH);
    EXPECT(ddaebm_window_init(&win, &wide, 130, 1, 2), DDAEBM_ERR_WINDOW_TOO_LARGE);
    EXPECT(ddaebm_window_init(&win, &never_loaded, 2, 1, 2), DDAEBM_ERR_NOT_INITIALISED);
    EXPECT(ddaebm_window_init_from_model(&win, &plain), DDAEBM_ERR_NO_WINDOW_CONTRACT);
    EXPECT(ddaebm_window_init_from_model(NULL, &model), DDAEBM_ERR_NULL_POINTER);
    EXPECT(ddaebm_window_push(&zero_win, sample, 2, &due), DDAEBM_ERR_NOT_INITIALISED);
    OK(ddaebm_window_init_from_model(&win, &model)); /* 2 samples x 2 channels, stride 1 */
    OK(ddaebm_window_init(&win3, &plain, 2, 3, 2));  /* stride 3 */
    EXPECT(ddaebm_window_score(&win, &model, scratch, sl, &score), DDAEBM_ERR_WINDOW_NOT_FULL);
    EXPECT(ddaebm_window_push(&win, sample, 3, &due), DDAEBM_ERR_DIMENSION_MISMATCH);
    EXPECT(ddaebm_window_push(&win, sample, 2, NULL), DDAEBM_ERR_NULL_POINTER);
    int windows = 0;
    for (int i = 0; i < 12; i++) {
        sample[0] = (float)((i * 37) % 17) * 0.25f - 2.0f;
        sample[1] = (float)((i * i) % 13) * 0.125f - 0.5f;
        OK(ddaebm_window_push_score(&win, &model, sample, 2, scratch, sl, &scored, &score));
        CHECK(scored == (i >= 1));
        if (scored) {
            printf("cmp window %d %08x\n", i, bits(score));
            windows++;
            float again;
            OK(ddaebm_window_score(&win, &model, scratch, sl, &again));
            CHECK(bits(again) == bits(score));
        }
        OK(ddaebm_window_push(&win3, sample, 2, &due));
        CHECK(due == (i >= 1 && (i - 1) % 3 == 0));
        if (due) {
            OK(ddaebm_window_score(&win3, &plain, scratch, sl, &score));
            printf("cmp stride3 %d %08x\n", i, bits(score));
        }
    }
    CHECK(windows == 11);
    EXPECT(ddaebm_window_score(&win, &wide, scratch, sl, &score), DDAEBM_ERR_WINDOW_MISMATCH);
    EXPECT(ddaebm_window_score(&win, &model, scratch, 4, &score), DDAEBM_ERR_SCRATCH_TOO_SMALL);
    EXPECT(ddaebm_window_push_score(&win, &model, sample, 1, scratch, sl, &scored, &score),
           DDAEBM_ERR_DIMENSION_MISMATCH);
    EXPECT(ddaebm_window_push_score(&win, &model, sample, 2, scratch, sl, &scored, NULL), DDAEBM_ERR_NULL_POINTER);
    EXPECT(ddaebm_window_reset(NULL), DDAEBM_ERR_NULL_POINTER);
    OK(ddaebm_window_reset(&win));
    EXPECT(ddaebm_window_score(&win, &model, scratch, sl, &score), DDAEBM_ERR_WINDOW_NOT_FULL);

    /* ---- field calibration */
    static ddaebm_field_t field, zero_field;
    ddaebm_field_progress_t prog;
    bool complete = false, anomaly = false;
    float threshold;
    EXPECT(ddaebm_field_init(&field, 1.5f, 10), DDAEBM_ERR_INVALID_CALIBRATION_LEVEL);
    EXPECT(ddaebm_field_init(&field, NAN, 10), DDAEBM_ERR_INVALID_CALIBRATION_LEVEL);
    EXPECT(ddaebm_field_init(&field, 0.9f, 0), DDAEBM_ERR_FIELD_CALIBRATION_WINDOWS);
    EXPECT(ddaebm_field_observe(&field, 1.0f, &complete), DDAEBM_ERR_NOT_INITIALISED);
    EXPECT(ddaebm_field_progress(&zero_field, &prog), DDAEBM_ERR_NOT_INITIALISED);
    OK(ddaebm_field_init(&field, 0.9f, 10));
    /* While learning: the file's threshold, or none. */
    EXPECT(ddaebm_field_threshold(&field, &plain, &threshold), DDAEBM_ERR_FIELD_CALIBRATION_INCOMPLETE);
    EXPECT(ddaebm_field_is_anomaly(&field, &plain, 1.0f, &anomaly), DDAEBM_ERR_FIELD_CALIBRATION_INCOMPLETE);
    OK(ddaebm_field_threshold(&field, &model, &threshold));
    CHECK(bits(threshold) == bits(info.threshold));
    EXPECT(ddaebm_field_observe(&field, NAN, &complete), DDAEBM_ERR_NON_FINITE_OUTPUT);
    EXPECT(ddaebm_field_observe(&field, INFINITY, &complete), DDAEBM_ERR_NON_FINITE_OUTPUT);
    EXPECT(ddaebm_field_observe(&field, 1.0f, NULL), DDAEBM_ERR_NULL_POINTER);
    for (int i = 0; i < 10; i++) {
        OK(ddaebm_field_observe(&field, (float)i * 0.5f, &complete));
        CHECK(complete == (i == 9));
    }
    OK(ddaebm_field_progress(&field, &prog));
    CHECK(prog.seen == 10 && prog.windows == 10 && prog.complete && prog.exact);
    OK(ddaebm_field_threshold(&field, &plain, &threshold)); /* the learned one, with or without the file's */
    CHECK(bits(threshold) == bits(prog.learned_threshold));
    printf("cmp field %08x\n", bits(threshold));
    /* 0.9-quantile of 0, 0.5, ..., 4.5 (NumPy linear): 4.05. */
    CHECK(fabsf(threshold - 4.05f) < 1e-6f);
    OK(ddaebm_field_is_anomaly(&field, &model, 4.1f, &anomaly));
    CHECK(anomaly);
    OK(ddaebm_field_is_anomaly(&field, &model, 4.0f, &anomaly));
    CHECK(!anomaly);
    EXPECT(ddaebm_field_is_anomaly(&field, &model, NAN, &anomaly), DDAEBM_ERR_NON_FINITE_OUTPUT);
    EXPECT(ddaebm_field_threshold(&field, &model, NULL), DDAEBM_ERR_NULL_POINTER);
    OK(ddaebm_field_restart(&field));
    EXPECT(ddaebm_field_restart(&zero_field), DDAEBM_ERR_NOT_INITIALISED);
    OK(ddaebm_field_progress(&field, &prog));
    CHECK(prog.seen == 0 && !prog.complete && isnan(prog.learned_threshold));

    /* ---- every status code was returned by some call */
    for (int code = 0; code < DDAEBM_STATUS_COUNT; code++) {
        if (!seen[code]) {
            failures++;
            printf("FAIL status %s was never returned\n", ddaebm_status_name(code));
        }
    }
    free(model_bytes);
    free(plain_bytes);
    free(wide_bytes);
    printf("c_api: %d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
