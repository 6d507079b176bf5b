#ifndef DROMOS_CPCAP_SHIM_H
#define DROMOS_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
