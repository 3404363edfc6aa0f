/* Instantiates the typed file named by DX_TYPED_FILE for float and for
 * double (the one way to write a kernel for both: see cpu.h). No include
 * guard: a file includes this once per typed file, right after defining
 * DX_TYPED_FILE.
 *
 * Inside the typed file:
 *   T          the element type;
 *   SFX(name)  the instance's name: name_f32 or name_f64;
 *   FAST_EXP   e^x for T where a few ulp do not matter (sigmoids, softmax):
 *              dx_cpu_expf, which vectorises, for float; libm's exp for double.
 *   FAST_ERFC  erfc(x) likewise: dx_cpu_erfcf for float (relative error
 *              ~1e-7), libm's erfc for double.
 * A family whose float loops should call float functions (expf, tanhf)
 * includes <tgmath.h> in its .c (elementwise.c); elsewhere <math.h> promotes
 * to double, and the typed code says so with a cast where it matters. */
#ifndef DX_TYPED_FILE
#error "define DX_TYPED_FILE before including backend/cpu/typed.h"
#endif

#define T float
#define SFX(name) name##_f32
#define FAST_EXP dx_cpu_expf
#define FAST_ERFC dx_cpu_erfcf
#include DX_TYPED_FILE
#undef T
#undef SFX
#undef FAST_EXP
#undef FAST_ERFC

#define T double
#define SFX(name) name##_f64
#define FAST_EXP exp
#define FAST_ERFC erfc
#include DX_TYPED_FILE
#undef T
#undef SFX
#undef FAST_EXP
#undef FAST_ERFC

#undef DX_TYPED_FILE
