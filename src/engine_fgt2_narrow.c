/*
 * engine_fgt2_narrow.c: the 2-d fast Gauss transform of engine_fgt2.c
 * built again with rows of NW_FGT2_NARROW_PP doubles instead of 32, its
 * entry points nw_fgt2_cost_narrow and nw_fgt2_init_narrow.  engine_fgt2.c
 * sends it the local mode when P <= NW_FGT2_NARROW_PP (see there).
 */
#define _DEFAULT_SOURCE /* lgamma_r, as engine_fgt2.c */
#include "engine.h"

#define FGT2_PP NW_FGT2_NARROW_PP
#include "engine_fgt2.c"
