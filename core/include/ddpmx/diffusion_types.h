/* The two choices of the diffusion objective that an experiment names
 * (diffusion.predict, diffusion.timesteps), each with its words beside it.
 * Pure data, without the tensor API, so that the experiment can hold them. */
#ifndef DDPMX_DIFFUSION_TYPES_H
#define DDPMX_DIFFUSION_TYPES_H

#ifdef __cplusplus
extern "C" {
#endif

/* What the model predicts. */
typedef enum dx_predict {
  DX_PREDICT_EPS = 0, /* the noise: Ho et al. 2020 */
  DX_PREDICT_X0 = 1,  /* the clean image */
  DX_PREDICT_V = 2    /* v = sqrt(abar) eps - sqrt(1 - abar) x0: Salimans & Ho 2022 */
} dx_predict;
/* The word of each value, in the order of the values. */
#define DX_PREDICT_WORDS "eps|x0|v"

/* How training draws t. */
typedef enum dx_timestep_kind {
  DX_TIMESTEPS_UNIFORM = 0,   /* t ~ U{0..T-1}, weights 1 */
  DX_TIMESTEPS_IMPORTANCE = 1 /* p_t ~ sqrt(E[L_t^2]) (Nichol & Dhariwal 2021 sec. 3.3) */
} dx_timestep_kind;
#define DX_TIMESTEPS_WORDS "uniform|importance"

#ifdef __cplusplus
}
#endif
#endif
