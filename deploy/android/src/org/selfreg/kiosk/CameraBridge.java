package org.selfreg.kiosk;

import android.hardware.camera2.CameraAccessException;
import android.hardware.camera2.CameraCaptureSession;
import android.hardware.camera2.CameraDevice;
import android.hardware.camera2.CameraManager;
import android.hardware.camera2.CaptureRequest;
import android.os.Handler;
import android.view.Surface;

import java.nio.ByteBuffer;
import java.util.Collections;

/**
 * camera2's callbacks are abstract classes (CameraDevice.StateCallback,
 * CameraCaptureSession.StateCallback), which pyjnius cannot subclass: it implements Java
 * interfaces only.  This class opens the camera, starts a repeating preview request into the
 * ImageReader's surface and reports through {@link Listener}, an interface the kiosk implements
 * in Python (kiosk/camera/android.py).  buildozer compiles it into the APK (android.add_src).
 */
public class CameraBridge {
    /** Error codes besides CameraDevice.StateCallback.ERROR_* (1..5). */
    public static final int DISCONNECTED = -1;
    public static final int CONFIGURE_FAILED = -2;
    public static final int ACCESS = -3;

    public interface Listener {
        void onStarted();

        void onFailed(int error, String message);
    }

    private final Listener listener;
    private final Handler handler;
    private final Surface surface;
    private CameraDevice device;
    private CameraCaptureSession session;

    private CameraBridge(Surface surface, Listener listener, Handler handler) {
        this.surface = surface;
        this.listener = listener;
        this.handler = handler;
    }

    public static CameraBridge open(CameraManager manager, String cameraId, Surface surface,
                                    Listener listener, Handler handler) {
        final CameraBridge bridge = new CameraBridge(surface, listener, handler);
        try {
            manager.openCamera(cameraId, bridge.deviceCallback, handler);
        } catch (CameraAccessException | SecurityException | IllegalArgumentException e) {
            listener.onFailed(ACCESS, String.valueOf(e.getMessage()));
        }
        return bridge;
    }

    private final CameraDevice.StateCallback deviceCallback = new CameraDevice.StateCallback() {
        @Override
        public void onOpened(CameraDevice camera) {
            device = camera;
            try {
                camera.createCaptureSession(Collections.singletonList(surface), sessionCallback,
                                            handler);
            } catch (CameraAccessException | IllegalStateException e) {
                listener.onFailed(ACCESS, String.valueOf(e.getMessage()));
            }
        }

        @Override
        public void onDisconnected(CameraDevice camera) {
            camera.close();
            device = null;
            listener.onFailed(DISCONNECTED, "disconnected");
        }

        @Override
        public void onError(CameraDevice camera, int error) {
            camera.close();
            device = null;
            listener.onFailed(error, "error " + error);
        }
    };

    private final CameraCaptureSession.StateCallback sessionCallback =
            new CameraCaptureSession.StateCallback() {
        @Override
        public void onConfigured(CameraCaptureSession configured) {
            session = configured;
            try {
                CaptureRequest.Builder request =
                        device.createCaptureRequest(CameraDevice.TEMPLATE_PREVIEW);
                request.addTarget(surface);
                // Cards are held at 10-30 cm: continuous autofocus keeps their bars sharp.
                request.set(CaptureRequest.CONTROL_AF_MODE,
                            CaptureRequest.CONTROL_AF_MODE_CONTINUOUS_PICTURE);
                configured.setRepeatingRequest(request.build(), null, handler);
                listener.onStarted();
            } catch (CameraAccessException | IllegalStateException | NullPointerException e) {
                listener.onFailed(ACCESS, String.valueOf(e.getMessage()));
            }
        }

        @Override
        public void onConfigureFailed(CameraCaptureSession failed) {
            listener.onFailed(CONFIGURE_FAILED, "configure failed");
        }
    };

    /** Stops the preview and releases the camera (safe to call twice). */
    public void close() {
        if (session != null) {
            session.close();
            session = null;
        }
        if (device != null) {
            device.close();
            device = null;
        }
    }

    /** A plane's bytes as a Java array pyjnius hands to Python in one copy. */
    public static byte[] bytesOf(ByteBuffer buffer) {
        ByteBuffer view = buffer.duplicate();
        view.rewind();
        byte[] out = new byte[view.remaining()];
        view.get(out);
        return out;
    }
}
