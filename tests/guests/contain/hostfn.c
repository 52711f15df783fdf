/* Embedder host functions test guest: imports module host_func_test,
 * which the embedder provides (spawn's `imports`, the CLI's --imports).
 *
 *   hostfn plus A B | block MS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((import_module("host_func_test"), import_name("plus_i32")))
int plus_i32(int a, int b);
__attribute__((import_module("host_func_test"), import_name("block_ms")))
void block_ms(int ms);

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && !strcmp(argv[1], "plus")) {
		int a = atoi(argv[2]), b = atoi(argv[3]);
		printf("plus_i32(%d, %d) = %d\n", a, b, plus_i32(a, b));
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "block")) {
		printf("blocking\n");
		block_ms(atoi(argv[2]));
		printf("returned\n");
		return 0;
	}
	fprintf(stderr, "usage: hostfn plus A B | block MS\n");
	return 2;
}
