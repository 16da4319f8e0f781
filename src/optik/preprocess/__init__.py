"""The shared OpenCV preprocessing layer: decode/encode, colour and depth, resize modes, tiling, masks, drawing."""
