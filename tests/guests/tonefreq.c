/* The console guest's recording analyser: reads a 16-bit PCM WAV file (what arecord
 * wrote) and prints "hz=H peak=P seconds=S" on one line, where P is the largest |sample|
 * of any channel (0..32767), S the file's duration (2 decimals) and H the dominant
 * frequency, in whole Hz, of channel 0's loudest half second: the one of the 0.5 s windows
 * (one every 0.1 s) with the highest RMS, Hann-weighted (so a tone between two steps is
 * not lost in a null of the 2 Hz wide bins) and scanned with the Goertzel algorithm from
 * 20 Hz to 8 kHz (or Nyquist) in 5 Hz steps: about 0.6 s under QEMU's TCG. A silent file
 * (P < 100) gives hz=0.
 * Usage: tonefreq FILE. Errors go to stderr with exit status 1. Built static: the guest
 * has only busybox. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOW_HZ 20
#define HIGH_HZ 8000
#define STEP_HZ 5
#define SILENT_PEAK 100

static int fail(const char *message, const char *detail) {
    fprintf(stderr, "tonefreq: %s%s%s\n", message, detail ? ": " : "", detail ? detail : "");
    return 1;
}

static uint32_t le32(const unsigned char *p) {
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p) { return p[0] | p[1] << 8; }

/* The Goertzel power of samples[0..count) at hz. */
static double goertzel(const float *samples, long count, double hz, unsigned rate) {
    const float coeff = (float)(2.0 * cos(2.0 * M_PI * hz / rate));
    float s1 = 0, s2 = 0;
    for (long i = 0; i < count; i++) {
        float s = samples[i] + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    return (double)s1 * s1 + (double)s2 * s2 - (double)coeff * s1 * s2;
}

/* The frequency, from LOW_HZ to high in STEP_HZ steps, with the most power. */
static long strongest(const float *samples, long count, long high, unsigned rate) {
    long best = LOW_HZ;
    double best_power = -1;
    for (long hz = LOW_HZ; hz <= high; hz += STEP_HZ) {
        double power = goertzel(samples, count, hz, rate);
        if (power > best_power) {
            best_power = power;
            best = hz;
        }
    }
    return best;
}

int main(int argc, char **argv) {
    if (argc != 2)
        return fail("usage: tonefreq FILE.wav", NULL);
    FILE *file = fopen(argv[1], "rb");
    if (!file)
        return fail(argv[1], strerror(errno));
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    rewind(file);
    unsigned char *wav = malloc(size > 0 ? size : 1);
    if (!wav || size < 12 || fread(wav, 1, size, file) != (size_t)size)
        return fail(argv[1], "cannot read it");
    fclose(file);
    if (memcmp(wav, "RIFF", 4) != 0 || memcmp(wav + 8, "WAVE", 4) != 0)
        return fail(argv[1], "not a RIFF WAVE file");

    /* Walk the chunks to "data", taking the format from "fmt " on the way. */
    unsigned channels = 0, rate = 0, bits = 0, block = 0;
    const unsigned char *data = NULL;
    long data_size = 0;
    for (long pos = 12; pos + 8 <= size;) {
        uint32_t length = le32(wav + pos + 4);
        long body = pos + 8;
        if (memcmp(wav + pos, "fmt ", 4) == 0) {
            if (length < 16 || body + 16 > size)
                return fail(argv[1], "short fmt chunk");
            uint16_t format = le16(wav + body);
            channels = le16(wav + body + 2);
            rate = le32(wav + body + 4);
            block = le16(wav + body + 12);
            bits = le16(wav + body + 14);
            /* 1 is PCM; 0xFFFE (extensible) is what arecord writes for more channels. */
            if ((format != 1 && format != 0xFFFE) || bits != 16 || channels == 0 ||
                rate == 0 || block != channels * 2)
                return fail(argv[1], "not 16-bit PCM");
        } else if (memcmp(wav + pos, "data", 4) == 0) {
            if (channels == 0)
                return fail(argv[1], "data chunk before fmt chunk");
            data = wav + body;
            /* A recorder that was cut short may leave a placeholder length. */
            data_size = (long)length < size - body ? (long)length : size - body;
            break;
        }
        pos = body + (long)length + (length & 1);
    }
    if (!data)
        return fail(argv[1], "no data chunk");

    long frames = data_size / block;
    int peak = 0;
    for (long i = 0; i < frames * channels; i++) {
        int sample = (int16_t)le16(data + 2 * i);
        if (abs(sample) > peak)
            peak = abs(sample);
    }
    if (peak > 32767)
        peak = 32767;
    long hz = 0;
    if (peak >= SILENT_PEAK) {
        /* The loudest 0.5 s of channel 0, from running sums of squares. */
        long window = rate / 2 < frames ? rate / 2 : frames, hop = rate / 10 ? rate / 10 : 1;
        double *energy = malloc((frames + 1) * sizeof *energy);
        float *samples = malloc(window * sizeof *samples);
        if (!energy || !samples)
            return fail("out of memory", NULL);
        energy[0] = 0;
        for (long i = 0; i < frames; i++) {
            double sample = (int16_t)le16(data + (long)block * i);
            energy[i + 1] = energy[i] + sample * sample;
        }
        long start = 0;
        for (long at = 0; at + window <= frames; at += hop)
            if (energy[at + window] - energy[at] > energy[start + window] - energy[start])
                start = at;
        for (long i = 0; i < window; i++) {
            double hann = window > 1 ? 0.5 - 0.5 * cos(2 * M_PI * i / (window - 1)) : 1;
            samples[i] = (float)(hann * (int16_t)le16(data + (long)block * (start + i)));
        }
        hz = strongest(samples, window, HIGH_HZ < rate / 2 ? HIGH_HZ : rate / 2, rate);
    }
    printf("hz=%ld peak=%d seconds=%.2f\n", hz, peak, (double)frames / rate);
    return 0;
}
