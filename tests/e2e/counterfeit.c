/* An nbdkit plugin (run by nbdkit's cc plugin) for the e2e rig: a counterfeit USB key.
 * It advertises size= bytes but stores only file='s length: every offset wraps around
 * modulo the real size, as on the fake "2 GB" sticks whose controller ignores high
 * address bits. */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS

static const char *path;
static int64_t advertised;
static int fd = -1;
static off_t real_size;

static int wrap_config(const char *key, const char *value) {
        if (strcmp(key, "file") == 0)
                path = value;
        else if (strcmp(key, "size") == 0)
                advertised = nbdkit_parse_size(value);
        else {
                nbdkit_error("unknown parameter %s", key);
                return -1;
        }
        return 0;
}

static int wrap_get_ready(void) {
        struct stat st;

        if (!path || advertised <= 0) {
                nbdkit_error("file= and size= are required");
                return -1;
        }
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
                nbdkit_error("%s: %m", path);
                return -1;
        }
        real_size = st.st_size;
        return 0;
}

static void *wrap_open(int readonly) { return &fd; }
static int64_t wrap_get_size(void *h) { return advertised; }

static int wrap_io(void *buf, uint32_t count, uint64_t offset, int is_write) {
        while (count > 0) {
                off_t at = (off_t) (offset % (uint64_t) real_size);
                size_t n = count;
                ssize_t r;

                if ((off_t) n > real_size - at)
                        n = (size_t) (real_size - at);
                r = is_write ? pwrite(fd, buf, n, at) : pread(fd, buf, n, at);
                if (r <= 0) {
                        nbdkit_error("%s at %lld: %m", is_write ? "pwrite" : "pread", (long long) at);
                        errno = r < 0 ? errno : EIO;
                        return -1;
                }
                buf = (char *) buf + r;
                count -= (uint32_t) r;
                offset += (uint64_t) r;
        }
        return 0;
}

static int wrap_pread(void *h, void *buf, uint32_t count, uint64_t offset, uint32_t flags) {
        return wrap_io(buf, count, offset, 0);
}
static int wrap_pwrite(void *h, const void *buf, uint32_t count, uint64_t offset, uint32_t flags) {
        return wrap_io((void *) buf, count, offset, 1);
}

static struct nbdkit_plugin plugin = {
        .name = "counterfeit",
        .config = wrap_config,
        .get_ready = wrap_get_ready,
        .open = wrap_open,
        .get_size = wrap_get_size,
        .pread = wrap_pread,
        .pwrite = wrap_pwrite,
};
NBDKIT_REGISTER_PLUGIN(plugin)
