/* true: exits with status 0 (the smallest program; benchmarks exec it). */
int main(void) {
    return 0;
}
