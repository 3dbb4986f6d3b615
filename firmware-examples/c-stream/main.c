/*
 * C firmware example: streams samples through the DDAEBM runtime's C API
 * (runtime-c/include/ddaebm.h) as an ADC interrupt would, scores every due
 * window, learns the alarm threshold from the first windows (field
 * calibration) and reports alarms. Portable: platform_semihosting.c runs it
 * on QEMU mps2-an386 (Cortex-M4F), platform_host.c on the host, and
 * scripts/c-firmware.sh --check compares the two outputs' "cmp" lines bit for
 * bit.
 *
 * The model file is embedded by model.S (.incbin). The window is the one the
 * file declares (trainer fit --window; ddaebm_window_init_from_model), or,
 * for a file without an input contract, one sample of data_dim channels.
 */
#include "ddaebm.h"
#include "platform.h"

extern const uint8_t ddaebm_model_start[];
extern const uint8_t ddaebm_model_end[];

#define SAMPLES 96          /* samples streamed */
#define LEARN_WINDOWS 40    /* field calibration: windows of normal operation */
#define MAX_SCRATCH 1024    /* floats; the model's scratch_len must fit (a 300-wide model needs 602 + D) */
#define MAX_CHANNELS 64

static ddaebm_model_t model;
static ddaebm_window_t window;
static ddaebm_field_t field;
static float scratch[MAX_SCRATCH];

static int fail(const char *what, ddaebm_status_t status) {
    out_str("ERROR ");
    out_str(what);
    out_str(": ");
    out_str(ddaebm_status_name(status));
    out_str(": ");
    out_str(ddaebm_status_message(status));
    out_str("\n");
    return 1;
}

/* Channel c of sample i: a deterministic pattern, exact in float, with a
 * burst of large values (an "anomaly") in samples 70..73. */
static float sample_value(int i, int c) {
    float v = (float)((i * 37 + c * 11) % 17) * 0.25f - 2.0f;
    return (i >= 70 && i < 74) ? v * 8.0f + 12.0f : v;
}

int app_main(void) {
    ddaebm_status_t st;
    size_t len = (size_t)(ddaebm_model_end - ddaebm_model_start);
    if ((st = ddaebm_model_load(&model, ddaebm_model_start, len)) != DDAEBM_OK) return fail("load", st);
    ddaebm_model_info_t info;
    if ((st = ddaebm_model_info(&model, &info)) != DDAEBM_OK) return fail("info", st);
    out_str("model: ");
    out_u32((uint32_t)len);
    out_str(" bytes, D = ");
    out_u32((uint32_t)info.data_dim);
    out_str(", scratch ");
    out_u32((uint32_t)info.scratch_len);
    out_str(" floats\n");
    if (info.scratch_len > MAX_SCRATCH) return fail("scratch", DDAEBM_ERR_SCRATCH_TOO_SMALL);

    size_t channels;
    if (info.window > 0) {
        st = ddaebm_window_init_from_model(&window, &model);
        channels = info.channels;
    } else {
        st = ddaebm_window_init(&window, &model, 1, 1, info.data_dim);
        channels = info.data_dim;
    }
    if (st != DDAEBM_OK) return fail("window", st);
    if (channels > MAX_CHANNELS) return fail("channels", DDAEBM_ERR_WINDOW_TOO_LARGE);
    out_str("window: ");
    out_u32((uint32_t)(info.window > 0 ? info.window : 1));
    out_str(" samples x ");
    out_u32((uint32_t)channels);
    out_str(" channels\n");
    if ((st = ddaebm_field_init(&field, 0.9f, LEARN_WINDOWS)) != DDAEBM_OK) return fail("field", st);

    int windows = 0, alarms = 0;
    for (int i = 0; i < SAMPLES; i++) {
        float sample[MAX_CHANNELS];
        for (size_t c = 0; c < channels; c++) sample[c] = sample_value(i, (int)c);
        bool scored = false;
        float score = 0.0f;
        st = ddaebm_window_push_score(&window, &model, sample, channels, scratch, MAX_SCRATCH, &scored, &score);
        if (st != DDAEBM_OK) return fail("push_score", st);
        if (!scored) continue;
        windows++;
        out_str("cmp window ");
        out_u32((uint32_t)i);
        out_str(" ");
        out_hex32(bits_of(score));
        out_str("\n");
        bool complete = false, alarm = false;
        if ((st = ddaebm_field_observe(&field, score, &complete)) != DDAEBM_OK) return fail("observe", st);
        st = ddaebm_field_is_anomaly(&field, &model, score, &alarm);
        if (st == DDAEBM_ERR_FIELD_CALIBRATION_INCOMPLETE) continue; /* uncalibrated file, still learning */
        if (st != DDAEBM_OK) return fail("is_anomaly", st);
        if (alarm) {
            alarms++;
            out_str("cmp alarm ");
            out_u32((uint32_t)i);
            out_str("\n");
        }
    }
    float threshold;
    if ((st = ddaebm_field_threshold(&field, &model, &threshold)) != DDAEBM_OK) return fail("threshold", st);
    out_str("cmp field ");
    out_hex32(bits_of(threshold));
    out_str("\ncmp windows ");
    out_u32((uint32_t)windows);
    out_str(" alarms ");
    out_u32((uint32_t)alarms);
    out_str("\ndone\n");
    return 0;
}
