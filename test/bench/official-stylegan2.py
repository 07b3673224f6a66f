"""
The official stylegan2-ada-pytorch generator (config F, 1024 px, its fp16 setting: the top four
resolutions in fp16, conv_clamp 256) timed at the given batch sizes, frames as uint8 NHWC on the
host as its gen_images.py makes them. Its source is not part of gance: pass the folder it was
fetched into (dnnlib, torch_utils, training). Its custom CUDA ops build with nvcc and ninja, but
on recent PyTorch they load only if the module torch.utils.cpp_extension.load returns is put into
sys.modules under its name; this harness does that at run time and says which ops were used.

    python3 test/bench/official-stylegan2.py --src DIR [--batches 1,8] [--seconds 3] [--resolution 1024]

Last line: one JSON object.
"""
import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--src', required=True)
    ap.add_argument('--batches', default='1,8')
    ap.add_argument('--seconds', type=float, default=3.0)
    ap.add_argument('--resolution', type=int, default=1024)
    ap.add_argument('--fp32', action='store_true', help='num_fp16_res=0')
    args = ap.parse_args()
    sys.path.insert(0, args.src)

    import torch
    import torch.utils.cpp_extension as cpp_extension
    original_load = cpp_extension.load

    def load_and_register(*a, **k):
        module = original_load(*a, **k)
        name = k.get('name', a[0] if a else None)
        if name:
            sys.modules[name] = module
        return module

    cpp_extension.load = load_and_register

    from training.networks import Generator
    from torch_utils.ops import bias_act, upfirdn2d

    torch.backends.cudnn.benchmark = True
    dev = torch.device('cuda')
    G = Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=args.resolution, img_channels=3,
                  mapping_kwargs=dict(num_layers=8),
                  synthesis_kwargs=dict(channel_base=32768, channel_max=512, num_fp16_res=0 if args.fp32 else 4, conv_clamp=256))
    G = G.eval().requires_grad_(False).to(dev)
    custom = bias_act._init() and upfirdn2d._init()
    out = {'custom_ops': bool(custom), 'torch': torch.__version__, 'gpu': torch.cuda.get_device_name(0), 'img_per_s': {}, 'ms_per_batch': {}}
    print(f'official generator: custom ops {"loaded" if custom else "NOT loaded (reference ops)"}', flush=True)
    for b in [int(x) for x in args.batches.split(',')]:
        z = torch.randn([b, 512], device=dev, generator=torch.Generator(device=dev).manual_seed(b))

        def step():
            img = G(z, None, truncation_psi=1, noise_mode='const')
            return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu()

        with torch.no_grad():
            for _ in range(5):
                step()
            torch.cuda.synchronize()
            n = 0
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < args.seconds:
                step()
                n += 1
            dt = time.perf_counter() - t0
        out['img_per_s'][str(b)] = round(n * b / dt, 2)
        out['ms_per_batch'][str(b)] = round(1000 * dt / n, 3)
        print(f'official batch {b}: {n * b / dt:.1f} img/s ({1000 * dt / n:.2f} ms per batch)', flush=True)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
