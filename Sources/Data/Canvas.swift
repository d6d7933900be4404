// A harder test of where attention falls: each garment at half size, placed off center on a
// canvas of the same 28² with clutter beside it. (A 56² canvas with the garment at full size, seen
// at the models' 28² input.) Centered garments fill about half of the image, so a near-uniform
// attention mask already covers much of the object; here the object is a small part of the scene,
// and bright clutter that is not the object competes for the attention.
import Tensor

public struct CanvasConfig: Codable, Hashable, Sendable {
    public var shrink = 2                         // the garment is pooled by this factor (2: 14 × 14 of 28²)
    public var clutter = 3                        // bright rectangles per image
    public var clutterSide: ClosedRange<Int> = 2...6  // their width and height, in pixels
    public var clutterIntensity: ClosedRange<Float> = 0.4...1
    public init() {}
}

extension ImageSet {
    /// Every image of the set on a canvas (see the file's comment), from `rng`: the garment's
    /// position is uniform over the canvas, each clutter rectangle's size, position and intensity
    /// too (a rectangle may overlap the garment; a pixel keeps the brighter of the two). Returns the
    /// composed images, and the garments alone at the same places (the object, for the masks).
    public func onCanvas(_ config: CanvasConfig = CanvasConfig(), rng: inout RNG) -> (scenes: ImageSet, objects: ImageSet) {
        let (side, s) = (height, config.shrink)
        precondition(height == width && side % s == 0, "onCanvas: square images whose side the shrink divides")
        let small = side / s, plane = side * side
        var scenes = [UInt8](repeating: 0, count: count * plane), objects = scenes
        for i in 0..<count {
            let (oy, ox) = (rng.int(in: 0...(side - small)), rng.int(in: 0...(side - small)))
            for y in 0..<small {
                for x in 0..<small {
                    var sum = 0
                    for dy in 0..<s { for dx in 0..<s { sum += Int(pixels[i * plane + (y * s + dy) * side + x * s + dx]) } }
                    objects[i * plane + (oy + y) * side + ox + x] = UInt8((sum + s * s / 2) / (s * s))
                }
            }
            for p in 0..<plane { scenes[i * plane + p] = objects[i * plane + p] }
            for _ in 0..<config.clutter {
                let (h, w) = (rng.int(in: config.clutterSide), rng.int(in: config.clutterSide))
                let (y0, x0) = (rng.int(in: 0...(side - h)), rng.int(in: 0...(side - w)))
                let value = UInt8((rng.uniform(config.clutterIntensity.lowerBound, config.clutterIntensity.upperBound) * 255).rounded())
                for y in y0..<y0 + h { for x in x0..<x0 + w { scenes[i * plane + y * side + x] = max(scenes[i * plane + y * side + x], value) } }
            }
        }
        return (ImageSet(pixels: scenes, labels: labels, height: side, width: side), ImageSet(pixels: objects, labels: labels, height: side, width: side))
    }
}
