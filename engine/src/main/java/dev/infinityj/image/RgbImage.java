package dev.infinityj.image;

import dev.infinityj.BadInputException;

/** An 8-bit RGB image, row-major with interleaved channels: pixel (x, y) channel c at (y·width + x)·3 + c. */
public record RgbImage(int width, int height, byte[] rgb) {
    public RgbImage {
        if (width <= 0 || height <= 0 || (long) width * height * 3 != rgb.length)
            throw new BadInputException("RgbImage: " + rgb.length + " bytes do not hold " + width + "x" + height + " RGB pixels");
    }

    public int get(int x, int y, int c) { return rgb[(y * width + x) * 3 + c] & 0xff; }
}
