/* Block plugins (DX_KIND_BLOCK): U-Net building blocks and attention.
 *
 * A block declares its parameters through a dx_module, which gives them
 * hierarchical state_dict names ("downs.0.1.block1.proj.weight") and
 * PyTorch's default initialisation, and runs its forward pass by composing
 * tensor ops: the tape supplies the backward pass. */
#ifndef DDPMX_BLOCK_H
#define DDPMX_BLOCK_H

#include "plugin.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The parameter scope of one block instance, owned by the model. */
typedef struct dx_module dx_module;

typedef enum dx_init {
  DX_INIT_ZEROS = 0,
  DX_INIT_ONES = 1,
  /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for Conv2d and
   * Linear weights (kaiming_uniform with a = sqrt(5)) and their biases. */
  DX_INIT_FAN_IN_UNIFORM = 2
} dx_init;

/* Creates the parameter `<module prefix>.<name>` (float32, persistent). */
DX_API dx_tensor *dx_module_param(dx_module *m, const char *name, int ndim, const int64_t *shape,
                                  dx_init init, int64_t fan_in);
DX_API dx_ctx *dx_module_ctx(dx_module *m);

/* What a block is for: the model refuses a block in a role it does not declare. */
enum {
  DX_BLOCK_ROLE_RES = 1u << 0, /* (x, temb) -> x', channels in -> out */
  DX_BLOCK_ROLE_ATTN = 1u << 1 /* x -> x', channels unchanged, temb unused */
};

typedef struct dx_block_shape {
  int64_t in_ch, out_ch; /* equal for attention */
  int64_t time_dim;      /* width of the time embedding; 0 if none */
  int64_t height, width; /* spatial size at this level (for information) */
} dx_block_shape;

typedef struct dx_block_ops {
  unsigned roles; /* DX_BLOCK_ROLE_* */
  /* Declares parameters on m and returns private state (may be NULL). */
  dx_status (*create)(dx_module *m, const dx_params *p, const dx_block_shape *shape, void **state);
  /* x (N,in_ch,H,W), temb (N,time_dim) or NULL -> (N,out_ch,H,W). `training`
   * switches dropout on. Returns NULL with the error recorded in ctx.
   * On the CPU the host may run it on several threads at once, each with
   * its own ctx and images: chunks without the tape (dx_run_pieces), each
   * thread's share of the batch with it (training). It must make everything
   * in the ctx it is given, not write its state, and treat each image apart
   * (nothing across the batch, such as batch statistics). */
  dx_tensor *(*forward)(dx_ctx *ctx, void *state, dx_tensor *x, dx_tensor *temb, bool training);
  void (*destroy)(void *state);
} dx_block_ops;

#ifdef __cplusplus
}
#endif
#endif
