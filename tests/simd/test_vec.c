/* Placeholder until this file's tests are written: checks only that the library initialises. */
#include <criterion/criterion.h>

#include "catgan.h"

Test(placeholder, init) { cr_assert_eq(cg_init(NULL), CG_OK); }
