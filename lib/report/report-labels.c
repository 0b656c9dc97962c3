/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A class's key labels: A4 sheets of stickers, one per key handed over, each with the
 * pupil's first and family name, the class, the key's short id and a QR code of that id
 * alone (no personal data in the code), so that a found key's label scans straight into
 * the commands that take a key. Positions in millimetres, as the label makers give them;
 * the QR code is inline SVG, one path of square modules.
 */
#include <inttypes.h>
#include <qrencode.h>
#include <strings.h>

#include "report/report-internal.h"

/* Sheets as the makers name them (Avery's references; other brands sell the same sizes
 * under these codes' "compatible" names). */
static const struct report_layout layouts[] = {
        { .name = "L7159", .columns = 3, .rows = 8, .width = 63.5, .height = 33.9,
          .top = 12.9, .left = 7.2, .pitch_x = 66.0, .pitch_y = 33.9 },
        { .name = "L7163", .columns = 2, .rows = 7, .width = 99.1, .height = 38.1,
          .top = 15.15, .left = 4.65, .pitch_x = 101.6, .pitch_y = 38.1 },
};

int report_layout_from_string(const char *s, const struct report_layout **ret) {
        for (size_t i = 0; i < ELEMENTSOF(layouts); i++)
                if (!s || strcasecmp(s, layouts[i].name) == 0) {
                        *ret = &layouts[i];
                        return 0;
                }
        return -EINVAL;
}

/* The QR code of s (error correction M, 8-bit), 4 modules of quiet zone, size mm square. */
static int put_qr(FILE *f, const char *s, double size) {
        QRcode *qr = QRcode_encodeString(s, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
        int w;

        if (!qr)
                return errno > 0 ? -errno : -ENOMEM;
        w = qr->width + 8;
        fprintf(f, "<svg class=\"qr\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%.1fmm\" "
                "height=\"%.1fmm\" shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
                "<path fill=\"#000\" d=\"", w, w, size, size, w, w);
        for (int y = 0; y < qr->width; y++)
                for (int x = 0; x < qr->width; x++)
                        if (qr->data[y * qr->width + x] & 1)
                                fprintf(f, "M%d %dh1v1h-1z", x + 4, y + 4);
        fputs("\"/></svg>", f);
        QRcode_free(qr);
        return 0;
}

struct labels {
        FILE *f;
        const struct report_options *o;
        const struct report_layout *l;
        size_t n;
};

static int label(void *userdata, const struct journal_report_key *k) {
        struct labels *lb = userdata;
        const struct report_layout *l = lb->l;
        size_t per_sheet = (size_t) (l->columns * l->rows), i = lb->n % per_sheet;
        const char *id = report_key_id(k->volume_id, k->serial);
        FILE *f = lb->f;
        int r;

        if (!report_key_is_handed_over(lb->o, k) || !*id)
                return 0;
        if (i == 0)
                fputs(lb->n ? "</div>\n<div class=\"sheet\">\n" : "<div class=\"sheet\">\n", f);
        lb->n++;
        fprintf(f, "<div class=\"label\" style=\"left:%.2fmm;top:%.2fmm\">",
                l->left + l->pitch_x * (double) (i % (size_t) l->columns),
                l->top + l->pitch_y * (double) (i / (size_t) l->columns));
        r = put_qr(f, id, l->height - 6);
        if (r < 0)
                return r;
        fputs("<div class=\"text\"><b>", f);
        html_put(f, k->first_name);
        fputs("</b><b>", f);
        html_put(f, k->family_name);
        fputs("</b><span>", f);
        html_put(f, k->class_name);
        fputs("</span><code>", f);
        html_put(f, id);
        fputs("</code></div></div>\n", f);
        return ferror(f) ? -EIO : 0;
}

int report_labels_write(struct journal *j, const struct report_options *o, const struct report_layout *l, FILE *f,
                        struct cart_error *err) {
        struct journal_report_filter rf = { .school = o->school, .class_name = o->class_name };
        struct labels lb = { .f = f, .o = o, .l = l };
        char css[768];
        int k;

        if (!o->school || !o->class_name)
                return cart_error_set(err, -EINVAL, "labels are for one class: give its school and class");
        /* The sheet is the page: no margin, each label where the maker cut it. */
        snprintf(css, sizeof(css),
                 "@page{size:A4;margin:0}body{margin:0;max-width:none}"
                 ".sheet{position:relative;width:210mm;height:297mm;overflow:hidden;page-break-after:always}"
                 ".label{position:absolute;box-sizing:border-box;width:%.2fmm;height:%.2fmm;padding:3mm;"
                 "display:flex;gap:2mm;align-items:center;overflow:hidden}"
                 ".label .qr{flex:none}.text{display:flex;flex-direction:column;min-width:0;font-size:9pt}"
                 ".text b,.text span{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}"
                 ".text code{font-size:10pt;font-weight:bold;margin-top:1mm}"
                 "@media screen{.label{outline:1px dashed #bbb}}",
                 l->width, l->height);
        html_head(f, REPORT_WORD_LABELS_TITLE, &(struct report_options) { .school = o->school,
                  .class_name = o->class_name, .words = o->words }, css);
        k = journal_report_keys(j, &rf, label, &lb, err);
        if (k < 0)
                return k;
        if (lb.n == 0)
                return cart_error_set(err, -ENOENT, "no key handed over to a pupil of class %s of school %s",
                                      o->class_name, o->school);
        fputs("</div>\n</body></html>\n", f);
        if (fflush(f) != 0 || ferror(f))
                return cart_error_errno(err, errno ? -errno : -EIO, NULL, "writing the labels");
        return 0;
}
