/* Base64 (RFC 4648, with padding), for PNGs embedded as data: URLs. */
#include "report/report.h"

void dx_base64(dx_strbuf *b, const unsigned char *p, size_t n) {
  static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char quad[4];
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                 (i + 2 < n ? p[i + 2] : 0);
    quad[0] = digits[v >> 18 & 63];
    quad[1] = digits[v >> 12 & 63];
    quad[2] = i + 1 < n ? digits[v >> 6 & 63] : '=';
    quad[3] = i + 2 < n ? digits[v & 63] : '=';
    dx_strbuf_add(b, quad, 4);
  }
}
