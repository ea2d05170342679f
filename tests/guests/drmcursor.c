/* The console guest's hardware cursor: sets a known 64x64 ARGB cursor image on the first
 * CRTC of /dev/dri/card0 with the legacy cursor ioctls, moves it, and stays alive (the
 * cursor goes when the last file descriptor of the DRM master closes).
 *
 * With virtio-gpu, QEMU turns this into a SPICE cursor channel's CURSOR_SET and MOVE:
 * the cursor tests compare what the client receives with the image drawn here.
 * Usage: drmcursor X Y puts the image's top-left corner at (X, Y) of the screen (so its hot
 * spot, (3, 5) of the image, at (X + 3, Y + 5)). The ioctl structures are the kernel's UAPI (drm_mode.h), written
 * out so the build needs no libdrm headers. Built static: the guest has only busybox. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

struct card_res {
    uint64_t fb_id_ptr, crtc_id_ptr, connector_id_ptr, encoder_id_ptr;
    uint32_t count_fbs, count_crtcs, count_connectors, count_encoders;
    uint32_t min_width, max_width, min_height, max_height;
};
struct create_dumb {
    uint32_t height, width, bpp, flags, handle, pitch;
    uint64_t size;
};
struct map_dumb {
    uint32_t handle, pad;
    uint64_t offset;
};
struct cursor {
    uint32_t flags, crtc_id;
    int32_t x, y;
    uint32_t width, height, handle;
};
struct cursor2 {
    uint32_t flags, crtc_id;
    int32_t x, y;
    uint32_t width, height, handle;
    int32_t hot_x, hot_y;
};

#define GETRESOURCES _IOWR('d', 0xA0, struct card_res)
#define CURSOR _IOWR('d', 0xA3, struct cursor)
#define CREATE_DUMB _IOWR('d', 0xB2, struct create_dumb)
#define MAP_DUMB _IOWR('d', 0xB3, struct map_dumb)
#define CURSOR2 _IOWR('d', 0xBB, struct cursor2)
#define CURSOR_BO 1
#define CURSOR_MOVE 2
#define SIDE 64

static void fail(const char *what) {
    printf("SPICEBOX-GUEST ERROR drmcursor: %s failed\n", what);
    fflush(stdout);
    exit(1);
}

int main(int argc, char **argv) {
    int x = argc > 2 ? atoi(argv[1]) : 200, y = argc > 2 ? atoi(argv[2]) : 150;
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 50; tries++) { /* the driver may still be probing */
        fd = open("/dev/dri/card0", O_RDWR);
        if (fd < 0)
            usleep(100000);
    }
    if (fd < 0)
        fail("open /dev/dri/card0");
    uint32_t crtcs[8];
    struct card_res res = {0};
    if (ioctl(fd, GETRESOURCES, &res) || res.count_crtcs == 0)
        fail("GETRESOURCES");
    res.count_fbs = res.count_connectors = res.count_encoders = 0;
    res.count_crtcs = res.count_crtcs > 8 ? 8 : res.count_crtcs;
    res.crtc_id_ptr = (uint64_t)(uintptr_t)crtcs;
    if (ioctl(fd, GETRESOURCES, &res))
        fail("GETRESOURCES (ids)");
    struct create_dumb dumb = {.height = SIDE, .width = SIDE, .bpp = 32};
    if (ioctl(fd, CREATE_DUMB, &dumb))
        fail("CREATE_DUMB");
    struct map_dumb map = {.handle = dumb.handle};
    if (ioctl(fd, MAP_DUMB, &map))
        fail("MAP_DUMB");
    uint8_t *pixels = mmap(0, dumb.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, map.offset);
    if (pixels == MAP_FAILED)
        fail("mmap");
    /* The image the tests expect: an opaque 32x32 gradient in the top-left corner (red
     * along x, green along y, blue 0x80), the rest fully transparent. */
    for (int row = 0; row < SIDE; row++) {
        uint32_t *line = (uint32_t *)(pixels + row * dumb.pitch);
        for (int col = 0; col < SIDE; col++)
            line[col] = row < 32 && col < 32
                ? 0xFF000000u | (uint32_t)(col * 8) << 16 | (uint32_t)(row * 8) << 8 | 0x80u
                : 0;
    }
    struct cursor2 set = {.flags = CURSOR_BO, .crtc_id = crtcs[0], .width = SIDE,
                          .height = SIDE, .handle = dumb.handle, .hot_x = 3, .hot_y = 5};
    if (ioctl(fd, CURSOR2, &set))
        fail("CURSOR2");
    struct cursor move = {.flags = CURSOR_MOVE, .crtc_id = crtcs[0], .x = x, .y = y};
    if (ioctl(fd, CURSOR, &move))
        fail("CURSOR move");
    printf("SPICEBOX-GUEST SHOWN cursor\n");
    fflush(stdout);
    for (;;)
        pause();
}
