#ifndef BATCH_TEST_H
#define BATCH_TEST_H
struct rec {
	unsigned long long seq;
	unsigned int pid;
	unsigned int pad;
};
#endif
