#ifndef REACH_CXLSXWRITER_SHIM_H
#define REACH_CXLSXWRITER_SHIM_H
#include <xlsxwriter.h>
#endif
