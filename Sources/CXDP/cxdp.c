// SwiftPM builds a C target from at least one source file; the target is its header (include/cxdp.h).
#include "cxdp.h"
