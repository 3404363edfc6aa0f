/* Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019). */
#include "train/optim.h"

#include <math.h>
#include <stdlib.h>

#include "tensor/update.h"

/* A zeroed persistent twin for each parameter, sharing its name. */
static dx_status twin_list(dx_ctx *ctx, const dx_param_list *params, dx_param_list *out,
                           bool copy) {
  out->items = calloc((size_t)(params->n ? params->n : 1), sizeof *out->items);
  if (!out->items) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory for optimiser state");
  out->cap = params->n;
  for (int64_t i = 0; i < params->n; i++) {
    const dx_tensor *p = params->items[i];
    dx_tensor *t = dx_tensor_new_persistent(ctx, p->dtype, p->ndim, p->shape);
    if (!t) return dx_status_of(ctx);
    t->name = p->name;
    out->items[out->n++] = t;
    if (copy)
      dx_tensor_copy(ctx, t, p);
    else
      dx_tensor_fill(ctx, t, 0.0);
  }
  return DX_OK;
}

dx_optim *dx_optim_create(dx_ctx *ctx, dx_param_list *params, const dx_optim_config *cfg) {
  dx_optim *o = calloc(1, sizeof *o);
  if (!o) {
    dx_set_error(ctx, DX_ERR_NOMEM, "out of memory for the optimiser");
    return NULL;
  }
  *o = (dx_optim){.ctx = ctx, .cfg = *cfg, .params = params};
  if (twin_list(ctx, params, &o->m, false) || twin_list(ctx, params, &o->v, false)) {
    dx_optim_free(o);
    return NULL;
  }
  return o;
}

void dx_optim_free(dx_optim *o) {
  if (!o) return;
  dx_param_list_free(o->ctx, &o->m);
  dx_param_list_free(o->ctx, &o->v);
  free(o);
}

dx_status dx_optim_step(dx_optim *o, double lr) {
  const dx_optim_config *c = &o->cfg;
  o->step++;
  double bc1 = 1 - pow(c->beta1, (double)o->step), bc2 = 1 - pow(c->beta2, (double)o->step);
  dx_adam_args a = {c->beta1,
                    c->beta2,
                    lr * sqrt(bc2) / bc1,
                    c->eps * sqrt(bc2),
                    c->kind == DX_OPTIM_ADAMW ? lr * c->weight_decay : 0.0,
                    c->kind == DX_OPTIM_ADAM ? c->weight_decay : 0.0};
  for (int64_t i = 0; i < o->params->n; i++)
    dx_adam_update(o->ctx, o->params->items[i], o->m.items[i], o->v.items[i], &a);
  return dx_status_of(o->ctx);
}

double dx_grad_norm(dx_ctx *ctx, const dx_param_list *params) {
  int64_t one = 1;
  double s = NAN;
  dx_tensor *acc = dx_tensor_zeros(ctx, DX_F64, 1, &one);
  for (int64_t i = 0; i < params->n; i++)
    dx_sum_squares_acc(ctx, params->items[i]->grad, acc);
  if (acc && dx_status_of(ctx) == DX_OK) dx_tensor_read(ctx, acc, &s, DX_F64);
  return dx_status_of(ctx) == DX_OK ? sqrt(s) : NAN;
}

double dx_clip_grad_norm(dx_ctx *ctx, dx_param_list *params, double max_norm) {
  double norm = dx_grad_norm(ctx, params);
  /* PyTorch adds 1e-6 to the norm so that a zero gradient stays finite. */
  if (max_norm > 0 && norm > max_norm) dx_scale_grads(ctx, params, max_norm / (norm + 1e-6));
  return norm;
}

void dx_scale_grads(dx_ctx *ctx, dx_param_list *params, double s) {
  for (int64_t i = 0; i < params->n; i++)
    dx_scale_inplace(ctx, params->items[i]->grad, s);
}

void dx_zero_grads(dx_ctx *ctx, dx_param_list *params) {
  for (int64_t i = 0; i < params->n; i++)
    dx_zero_grad(ctx, params->items[i]);
}

double dx_lr_at(const dx_lr_schedule *s, int64_t step) {
  if (s->warmup > 0 && step < s->warmup) return s->lr * (double)(step + 1) / (double)s->warmup;
  if (s->decay == DX_LR_CONSTANT || s->total <= s->warmup) return s->lr;
  double progress = (double)(step - s->warmup) / (double)(s->total - s->warmup);
  if (progress > 1) progress = 1;
  return s->lr * 0.5 * (1 + cos(M_PI * progress));
}

dx_ema *dx_ema_create(dx_ctx *ctx, const dx_param_list *params) {
  dx_ema *e = calloc(1, sizeof *e);
  if (!e) {
    dx_set_error(ctx, DX_ERR_NOMEM, "out of memory for EMA weights");
    return NULL;
  }
  e->ctx = ctx;
  if (twin_list(ctx, params, &e->shadow, true)) {
    dx_ema_free(e);
    return NULL;
  }
  return e;
}

void dx_ema_free(dx_ema *e) {
  if (!e) return;
  dx_param_list_free(e->ctx, &e->shadow);
  free(e);
}

void dx_ema_update(dx_ema *e, const dx_param_list *params, double decay) {
  for (int64_t i = 0; i < params->n; i++)
    dx_lerp_inplace(e->ctx, e->shadow.items[i], params->items[i], 1 - decay);
}

void dx_ema_swap(dx_ema *e, dx_param_list *params) {
  for (int64_t i = 0; i < params->n; i++) {
    void *d = params->items[i]->data;
    params->items[i]->data = e->shadow.items[i]->data;
    e->shadow.items[i]->data = d;
  }
}
