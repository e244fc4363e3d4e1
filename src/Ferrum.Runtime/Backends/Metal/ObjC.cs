using System.Runtime.InteropServices;

namespace Ferrum.Backends.Metal;

/// <summary>
/// The Objective-C runtime entry points Ferrum's Metal binding needs (there is no Silk.NET.Metal). <c>objc_msgSend</c>
/// is bound once per call signature: on arm64 it must be called through the exact prototype of the method, and
/// struct arguments (MTLSize) are passed by value as the platform ABI says, which the source-generated marshalling
/// does. No <c>_stret</c> variant is needed: no bound method returns a struct. Only ever called on macOS.
/// </summary>
internal static unsafe partial class ObjC
{
    private const string Lib = "/usr/lib/libobjc.A.dylib";

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint sel_registerName(string name);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint objc_getClass(string name);

    [LibraryImport(Lib)]
    public static partial nint objc_autoreleasePoolPush();

    [LibraryImport(Lib)]
    public static partial void objc_autoreleasePoolPop(nint pool);

    /// <summary>id f(id, SEL): getters, new*, commandBuffer, computeCommandEncoder.</summary>
    [LibraryImport(Lib, EntryPoint = "objc_msgSend")]
    public static partial nint Id(nint receiver, nint selector);

    /// <summary>id f(id, SEL, id): newFunctionWithName:.</summary>
    [LibraryImport(Lib, EntryPoint = "objc_msgSend")]
    public static partial nint Id(nint receiver, nint selector, nint a);

    /// <summary>id f(id, SEL, id, id*): newComputePipelineStateWithFunction:error:.</summary>
    [LibraryImport(Lib, EntryPoint = "objc_msgSend")]
    public static partial nint Id(nint receiver, nint selector, nint a, nint* error);

    /// <summary>id f(id, SEL, id, id, id*): newLibraryWithSource:options:error:.</summary>
    [LibraryImport(Lib, EntryPoint = "objc_msgSend")]
    public static partial nint Id(nint receiver, nint selector, nint a, nint b, nint* error);

    /// <summary>id f(id, SEL, const char*): initWithUTF8String:.</summary>
    [LibraryImport(Lib, EntryPoint = "objc_msgSend")]
    public static partial nint Id(nint receiver, nint selector, byte* utf8);

    /// <summary>id f(id, SEL, NSUInteger, NSUInteger): newBufferWithLength:options:.</summary>
    [LibraryImport(Lib, EntryPoint = "objc_msgSend")]
    public static partial nint Id(nint receiver, nint selector, nuint a, nuint b);

    /// <summary>id f(id, SEL, void*, NSUInteger, NSUInteger, id): newBufferWithBytesNoCopy:length:options:deallocator:.</summary>
    [LibraryImport(Lib, EntryPoint = "objc_msgSend")]
    public static partial nint Id(nint receiver, nint selector, void* bytes, nuint length, nuint options, nint deallocator);

    /// <summary>NSUInteger f(id, SEL): length, status, maxTotalThreadsPerThreadgroup, threadExecutionWidth.</summary>
    [LibraryImport(Lib, EntryPoint = "objc_msgSend")]
    public static partial nuint UInt(nint receiver, nint selector);

    /// <summary>BOOL f(id, SEL, NSInteger): supportsFamily:.</summary>
    [LibraryImport(Lib, EntryPoint = "objc_msgSend")]
    public static partial byte Bool(nint receiver, nint selector, nint a);

    /// <summary>void f(id, SEL): endEncoding, commit, waitUntilCompleted, release.</summary>
    [LibraryImport(Lib, EntryPoint = "objc_msgSend")]
    public static partial void Void(nint receiver, nint selector);

    /// <summary>void f(id, SEL, id): setComputePipelineState:.</summary>
    [LibraryImport(Lib, EntryPoint = "objc_msgSend")]
    public static partial void Void(nint receiver, nint selector, nint a);

    /// <summary>void f(id, SEL, id, NSUInteger, NSUInteger): setBuffer:offset:atIndex:.</summary>
    [LibraryImport(Lib, EntryPoint = "objc_msgSend")]
    public static partial void Void(nint receiver, nint selector, nint buffer, nuint offset, nuint index);

    /// <summary>void f(id, SEL, const void*, NSUInteger, NSUInteger): setBytes:length:atIndex:.</summary>
    [LibraryImport(Lib, EntryPoint = "objc_msgSend")]
    public static partial void Void(nint receiver, nint selector, void* bytes, nuint length, nuint index);

    /// <summary>void f(id, SEL, MTLSize, MTLSize): dispatchThreadgroups:threadsPerThreadgroup:.</summary>
    [LibraryImport(Lib, EntryPoint = "objc_msgSend")]
    public static partial void Void(nint receiver, nint selector, MTLSize a, MTLSize b);

    /// <summary>Cached selector lookup.</summary>
    public static nint Sel(string name) => Selectors.GetOrAdd(name, static n => sel_registerName(n));

    /// <summary>An NSString (+1 retained; the caller releases it).</summary>
    public static nint NewString(string value)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(value + "\0");
        fixed (byte* p = bytes)
        {
            var alloc = Id(objc_getClass("NSString"), Sel("alloc"));
            return Id(alloc, Sel("initWithUTF8String:"), p);
        }
    }

    /// <summary>The UTF-8 text of an NSString (null for nil).</summary>
    public static string? ToManaged(nint nsString) =>
        nsString == 0 ? null : Marshal.PtrToStringUTF8(Id(nsString, Sel("UTF8String")));

    /// <summary>localizedDescription of an NSError, or a fallback when there is none.</summary>
    public static string Describe(nint nsError, string fallback) =>
        nsError == 0 ? fallback : ToManaged(Id(nsError, Sel("localizedDescription"))) ?? fallback;

    /// <summary>Sends <c>release</c> (no-op for nil).</summary>
    public static void Release(nint obj)
    {
        if (obj != 0)
        {
            Void(obj, Sel("release"));
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, nint> Selectors = new(StringComparer.Ordinal);
}

/// <summary>Metal's MTLSize: three NSUIntegers, passed by value.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct MTLSize(nuint width, nuint height, nuint depth)
{
    /// <summary>x extent.</summary>
    public readonly nuint Width = width;

    /// <summary>y extent.</summary>
    public readonly nuint Height = height;

    /// <summary>z extent.</summary>
    public readonly nuint Depth = depth;

    /// <summary>A size from longs (1 for omitted dimensions).</summary>
    public static MTLSize Of(long width, long height = 1, long depth = 1) => new((nuint)width, (nuint)height, (nuint)depth);

    /// <inheritdoc/>
    public override string ToString() => $"({Width}, {Height}, {Depth})";
}
