// Placeholder until these benchmarks are written.
#include "shim.hpp"
